from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.points.voucher_models import PartnerStatementStatus, VoucherStatus

# Vouchers, the catalogue's stock counters, partners' monthly statements (issue 17 part B): RLS on each; stock
# never below zero; an approved or paid partner statement and its lines are frozen; the nightly expiry's index.
TABLES = ("points_voucher", "points_redemption_stock", "partner_statement", "partner_statement_line")

POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

# A used voucher names when, by whom and in which month; the stock taken is never negative; an approved or paid
# statement never changes except approved -> paid with the payment's fields (its id, partner, month, amounts and
# who computed and approved it stay); lines of a decided statement can be neither inserted, changed (nor moved into
# or out of it) nor deleted. A draft is replaced freely.
CHECKS = """
ALTER TABLE points_voucher ADD CONSTRAINT points_voucher_used CHECK (
    status <> 'used' OR (used_at IS NOT NULL AND used_by IS NOT NULL AND used_month IS NOT NULL));
ALTER TABLE points_voucher ADD CONSTRAINT points_voucher_amounts CHECK (cost_points > 0 AND value_fen >= 0);
ALTER TABLE points_redemption_stock ADD CONSTRAINT points_redemption_stock_taken CHECK (taken >= 0);
CREATE FUNCTION civicgrid_partner_statement_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'partner_statement' THEN
        IF OLD.status = 'paid' OR (OLD.status = 'approved' AND (
                TG_OP = 'DELETE' OR NEW.status <> 'paid'
                OR (NEW.id, NEW.tenant_id, NEW.partner_id, NEW.month, NEW.voucher_count, NEW.total_fen,
                    NEW.computed_at, NEW.computed_by, NEW.approved_at, NEW.approved_by)
                   IS DISTINCT FROM
                   (OLD.id, OLD.tenant_id, OLD.partner_id, OLD.month, OLD.voucher_count, OLD.total_fen,
                    OLD.computed_at, OLD.computed_by, OLD.approved_at, OLD.approved_by))) THEN
            RAISE EXCEPTION 'partner statement % is % and cannot change', OLD.id, OLD.status;
        END IF;
    -- A line: neither taken out of a decided statement (OLD) nor put into one (NEW), whatever the operation.
    ELSIF EXISTS (SELECT 1 FROM partner_statement s
                  WHERE s.id IN (CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.statement_id END,
                                 CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.statement_id END)
                    AND s.status <> 'draft') THEN
        RAISE EXCEPTION 'lines of an approved partner statement cannot change';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER partner_statement_frozen BEFORE UPDATE OR DELETE ON partner_statement
    FOR EACH ROW EXECUTE FUNCTION civicgrid_partner_statement_frozen();
CREATE TRIGGER partner_statement_line_frozen BEFORE INSERT OR UPDATE OR DELETE ON partner_statement_line
    FOR EACH ROW EXECUTE FUNCTION civicgrid_partner_statement_frozen();
CREATE INDEX points_voucher_due ON points_voucher (tenant_id, expires_at) WHERE status = 'issued';
"""

CHECKS_REVERSE = """
DROP INDEX points_voucher_due;
DROP TRIGGER partner_statement_line_frozen ON partner_statement_line;
DROP TRIGGER partner_statement_frozen ON partner_statement;
DROP FUNCTION civicgrid_partner_statement_frozen();
ALTER TABLE points_redemption_stock DROP CONSTRAINT points_redemption_stock_taken;
ALTER TABLE points_voucher DROP CONSTRAINT points_voucher_amounts;
ALTER TABLE points_voucher DROP CONSTRAINT points_voucher_used;
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0027_points')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PartnerStatement',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('partner_id', fields.BigIntField()),
                ('month', fields.CharField(max_length=7)),
                ('status', fields.CharEnumField(default=PartnerStatementStatus.DRAFT, description='DRAFT: draft\nAPPROVED: approved\nPAID: paid', enum_type=PartnerStatementStatus, max_length=8)),
                ('voucher_count', fields.IntField()),
                ('total_fen', fields.BigIntField()),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('computed_by', fields.CharField(max_length=128)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('approved_by', fields.CharField(null=True, max_length=128)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('paid_by', fields.CharField(null=True, max_length=128)),
                ('payment_reference', fields.CharField(null=True, max_length=128)),
            ],
            options={'table': 'partner_statement', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'month', 'partner_id'),), 'indexes': [Index(fields=['tenant_id', 'partner_id', 'month'])], 'pk_attr': 'id', 'table_description': 'What the tenant owes a partner for the vouchers it verified in a month.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='PartnerStatementLine',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('statement_id', fields.BigIntField()),
                ('position', fields.IntField()),
                ('voucher_id', fields.BigIntField()),
                ('voucher_code', fields.CharField(max_length=16)),
                ('redemption_code', fields.CharField(max_length=64)),
                ('title', fields.CharField(max_length=200)),
                ('used_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('amount_fen', fields.BigIntField()),
            ],
            options={'table': 'partner_statement_line', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'statement_id', 'position'),), 'indexes': [Index(fields=['tenant_id', 'voucher_id'])], 'pk_attr': 'id', 'table_description': "One verified voucher on a partner's statement."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='RedemptionStock',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('redemption_code', fields.CharField(max_length=64)),
                ('taken', fields.IntField(default=0)),
            ],
            options={'table': 'points_redemption_stock', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'redemption_code'),), 'pk_attr': 'id', 'table_description': 'How many vouchers of a catalogue item are out (issued or used); a conditional update keeps it within the'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Voucher',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(max_length=16)),
                ('person_id', fields.BigIntField()),
                ('redemption_code', fields.CharField(max_length=64)),
                ('kind', fields.CharField(max_length=16)),
                ('title', fields.CharField(max_length=200)),
                ('cost_points', fields.IntField()),
                ('value_fen', fields.BigIntField()),
                ('household_id', fields.BigIntField(null=True)),
                ('company_id', fields.BigIntField(null=True)),
                ('partner_id', fields.BigIntField(null=True)),
                ('partner_kind', fields.CharField(null=True, max_length=16)),
                ('status', fields.CharEnumField(default=VoucherStatus.ISSUED, description='ISSUED: issued\nUSED: used\nCANCELLED: cancelled\nEXPIRED: expired', enum_type=VoucherStatus, max_length=12)),
                ('spend_entry_id', fields.BigIntField()),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('issued_on', fields.DateField()),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('used_by', fields.CharField(null=True, max_length=128)),
                ('used_month', fields.CharField(null=True, max_length=7)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_by', fields.CharField(null=True, max_length=128)),
                ('idempotency_key', fields.CharField(max_length=200)),
            ],
            options={'table': 'points_voucher', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'code'), ('tenant_id', 'idempotency_key')), 'indexes': [Index(fields=['tenant_id', 'person_id', 'redemption_code', 'issued_on']), Index(fields=['tenant_id', 'partner_id', 'used_month']), Index(fields=['tenant_id', 'status', 'expires_at'])], 'pk_attr': 'id', 'table_description': 'One redemption: who spent what on which catalogue item, and the code that redeems it.'},
            bases=['TenantModel'],
        ),
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
        ops.RunSQL(CHECKS, reverse_sql=CHECKS_REVERSE),
    ]
