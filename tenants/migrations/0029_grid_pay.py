from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.points.grid_models import PayStatus

# Grid scores per month and grid workers' pay statements (issue 17 part D): tables, row-level security, one current
# statement per worker and month, and approved statements frozen.
TABLES = ("grid_score", "pay_statement")

POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

# A draft is recomputed freely. An approved statement changes only to paid (with the payment's fields) or to
# superseded (a revision replaced it); a paid one only to superseded; a superseded one never. None is deleted once
# approved, and its figures never change.
FROZEN = """
CREATE UNIQUE INDEX pay_statement_current ON pay_statement (tenant_id, period_key, person_id)
    WHERE status <> 'superseded';
CREATE FUNCTION civicgrid_pay_statement_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'draft' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' OR OLD.status = 'superseded'
       OR NOT ((OLD.status = 'approved' AND NEW.status IN ('paid', 'superseded'))
               OR (OLD.status = 'paid' AND NEW.status = 'superseded'))
       OR (NEW.id, NEW.tenant_id, NEW.period_key, NEW.person_id, NEW.grid_id, NEW.revision, NEW.reason,
           NEW.supersedes_id, NEW.grid_score,
           NEW.band_min_score, NEW.band_percent, NEW.base_fen, NEW.base_part_fen, NEW.points_earned,
           NEW.points_rate_fen, NEW.points_part_fen, NEW.total_fen, NEW.rule, NEW.config_version, NEW.computed_at,
           NEW.computed_by, NEW.approved_at, NEW.approved_by)
          IS DISTINCT FROM
          (OLD.id, OLD.tenant_id, OLD.period_key, OLD.person_id, OLD.grid_id, OLD.revision, OLD.reason,
           OLD.supersedes_id, OLD.grid_score,
           OLD.band_min_score, OLD.band_percent, OLD.base_fen, OLD.base_part_fen, OLD.points_earned,
           OLD.points_rate_fen, OLD.points_part_fen, OLD.total_fen, OLD.rule, OLD.config_version, OLD.computed_at,
           OLD.computed_by, OLD.approved_at, OLD.approved_by)
       OR (OLD.status = 'paid' AND (NEW.paid_at, NEW.paid_by, NEW.payment_reference)
                                   IS DISTINCT FROM (OLD.paid_at, OLD.paid_by, OLD.payment_reference)) THEN
        RAISE EXCEPTION 'pay statement % is % and cannot change', OLD.id, OLD.status;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER pay_statement_frozen BEFORE UPDATE OR DELETE ON pay_statement
    FOR EACH ROW EXECUTE FUNCTION civicgrid_pay_statement_frozen();
"""
FROZEN_REVERSE = """
DROP TRIGGER pay_statement_frozen ON pay_statement;
DROP FUNCTION civicgrid_pay_statement_frozen();
DROP INDEX pay_statement_current;
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0028_points_vouchers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GridScore',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_key', fields.CharField(max_length=8)),
                ('grid_id', fields.BigIntField()),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('score', fields.DecimalField(max_digits=5, decimal_places=2)),
                ('breakdown', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('config_version', fields.IntField(null=True)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('computed_by', fields.CharField(max_length=128)),
            ],
            options={'table': 'grid_score', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'period_key', 'grid_id'),), 'indexes': [Index(fields=['tenant_id', 'period_key', 'community_id']), Index(fields=['tenant_id', 'period_key', 'score'])], 'pk_attr': 'id', 'table_description': "A grid's score for a month (0.00-100.00) with a breakdown whose lines add up to it exactly."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='PayStatement',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_key', fields.CharField(max_length=8)),
                ('person_id', fields.BigIntField()),
                ('grid_id', fields.BigIntField()),
                ('revision', fields.IntField(default=1)),
                ('status', fields.CharEnumField(default=PayStatus.DRAFT, description='DRAFT: draft\nAPPROVED: approved\nPAID: paid\nSUPERSEDED: superseded', enum_type=PayStatus, max_length=12)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('supersedes_id', fields.BigIntField(null=True)),
                ('grid_score', fields.DecimalField(max_digits=5, decimal_places=2)),
                ('band_min_score', fields.IntField()),
                ('band_percent', fields.IntField()),
                ('base_fen', fields.BigIntField()),
                ('base_part_fen', fields.BigIntField()),
                ('points_earned', fields.BigIntField()),
                ('points_rate_fen', fields.BigIntField()),
                ('points_part_fen', fields.BigIntField()),
                ('total_fen', fields.BigIntField()),
                ('rule', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('config_version', fields.IntField(null=True)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('computed_by', fields.CharField(max_length=128)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('approved_by', fields.CharField(null=True, max_length=128)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('paid_by', fields.CharField(null=True, max_length=128)),
                ('payment_reference', fields.CharField(null=True, max_length=128)),
            ],
            options={'table': 'pay_statement', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'period_key', 'person_id', 'revision'),), 'indexes': [Index(fields=['tenant_id', 'period_key', 'status']), Index(fields=['tenant_id', 'person_id', 'period_key'])], 'pk_attr': 'id', 'table_description': "A grid worker's performance pay for a month, in fen: base x the band of their grid's score, plus their own"},
            bases=['TenantModel'],
        ),
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
        ops.RunSQL(FROZEN, reverse_sql=FROZEN_REVERSE),
    ]
