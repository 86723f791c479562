from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.points.models import EntryKind
from tenants.territory.parties import PartnerKind
from tenants.territory.people import PostKind

# The points ledger (issue 17): entries, lots, lot uses, balances, period totals; partners (merchants, canteens);
# the posts unit_head, volunteer and partner_staff.
TABLES = (
    "partner", "points_entry", "points_lot", "points_lot_use", "points_balance", "points_period_total",
    "points_expiry_run",
)

POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

# An entry's sign follows its kind; a lot holds 0..amount; a balance never goes below zero. Lots and balances are
# rewritten in place (spending, warnings: HOT updates into the free fifth of each page); entries without a
# rule, a source id or a reversed award skip the indexes on those. Balances and period
# totals follow the entries, once per statement (a nightly expiry of a million lots updates each balance once).
# Earned per period counts awards and their reversals on the day the award counts for (occurred_on).
LEDGER = """
ALTER TABLE points_entry ADD CONSTRAINT points_entry_sign CHECK (
    (kind IN ('award', 'return') AND amount > 0)
    OR (kind IN ('reversal', 'redeem', 'expiry') AND amount < 0)
    OR (kind = 'capped' AND amount = 0));
ALTER TABLE points_lot ADD CONSTRAINT points_lot_remaining CHECK (amount > 0 AND remaining BETWEEN 0 AND amount);
ALTER TABLE points_lot_use ADD CONSTRAINT points_lot_use_positive CHECK (amount > 0);
ALTER TABLE points_balance ADD CONSTRAINT points_balance_non_negative CHECK (balance >= 0);
ALTER TABLE points_lot SET (fillfactor = 80);
ALTER TABLE points_balance SET (fillfactor = 70);
CREATE INDEX points_entry_rule_day ON points_entry (tenant_id, person_id, rule_code, occurred_on)
    WHERE rule_code IS NOT NULL;
CREATE INDEX points_entry_source ON points_entry (tenant_id, source_kind, source_id) WHERE source_id IS NOT NULL;
CREATE UNIQUE INDEX points_entry_reverses ON points_entry (tenant_id, reverses_id) WHERE reverses_id IS NOT NULL;
CREATE INDEX points_period_rank ON points_period_total (tenant_id, period_key, earned DESC, person_id);
CREATE INDEX points_lot_origin ON points_lot (tenant_id, origin_lot_id) WHERE origin_lot_id IS NOT NULL;
CREATE FUNCTION civicgrid_points_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- (an upsert would check the CHECK against the bare amount before merging it, so open then add)
    INSERT INTO points_balance (tenant_id, person_id, balance)
        SELECT DISTINCT a.tenant_id, a.person_id, 0 FROM added a
        WHERE NOT EXISTS (SELECT 1 FROM points_balance b WHERE b.tenant_id = a.tenant_id AND b.person_id = a.person_id)
        ON CONFLICT (tenant_id, person_id) DO NOTHING;
    UPDATE points_balance b SET balance = b.balance + d.total
        FROM (SELECT tenant_id, person_id, SUM(amount) AS total FROM added GROUP BY tenant_id, person_id) d
        WHERE b.tenant_id = d.tenant_id AND b.person_id = d.person_id AND d.total <> 0;
    INSERT INTO points_period_total AS t (tenant_id, period_key, person_id, earned)
        SELECT a.tenant_id, p.k, a.person_id, SUM(a.amount) FROM added a,
            LATERAL (VALUES (to_char(a.occurred_on, 'YYYY-MM')), (to_char(a.occurred_on, 'YYYY"Q"Q')),
                            (to_char(a.occurred_on, 'YYYY'))) AS p(k)
        WHERE a.kind IN ('award', 'reversal')
        GROUP BY a.tenant_id, p.k, a.person_id
        ON CONFLICT (tenant_id, period_key, person_id) DO UPDATE SET earned = t.earned + EXCLUDED.earned;
    RETURN NULL;
END $$;
CREATE TRIGGER points_entry_totals AFTER INSERT ON points_entry REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION civicgrid_points_totals();
ALTER TABLE ledger_balance DROP CONSTRAINT ledger_balance_non_negative;
ALTER TABLE ledger_balance ADD CONSTRAINT ledger_balance_non_negative CHECK (balance_fen >= 0 OR split_part(account, ':', 1)
    NOT IN ('bond', 'subsidy_pool', 'brand_cap', 'points_fund', 'points_reserved'));
"""

LEDGER_REVERSE = """
ALTER TABLE ledger_balance DROP CONSTRAINT ledger_balance_non_negative;
ALTER TABLE ledger_balance ADD CONSTRAINT ledger_balance_non_negative
    CHECK (balance_fen >= 0 OR split_part(account, ':', 1) NOT IN ('bond', 'subsidy_pool', 'brand_cap'));
DROP TRIGGER points_entry_totals ON points_entry;
DROP FUNCTION civicgrid_points_totals();
DROP INDEX points_lot_origin; DROP INDEX points_period_rank; DROP INDEX points_entry_reverses; DROP INDEX points_entry_source;
DROP INDEX points_entry_rule_day;
ALTER TABLE points_balance RESET (fillfactor); ALTER TABLE points_lot RESET (fillfactor);
ALTER TABLE points_balance DROP CONSTRAINT points_balance_non_negative;
ALTER TABLE points_lot_use DROP CONSTRAINT points_lot_use_positive;
ALTER TABLE points_lot DROP CONSTRAINT points_lot_remaining;
ALTER TABLE points_entry DROP CONSTRAINT points_entry_sign;
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0026_config_points')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Partner',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('kind', fields.CharEnumField(description='MERCHANT: merchant\nCANTEEN: canteen', enum_type=PartnerKind, max_length=16)),
                ('code', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('community_id', fields.BigIntField(null=True)),
                ('contact_name', fields.CharField(default='', max_length=100)),
                ('contact_phone', fields.CharField(default='', max_length=32)),
                ('is_active', fields.BooleanField(default=True)),
            ],
            options={'table': 'partner', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'code'),), 'pk_attr': 'id', 'table_description': 'A merchant or canteen that honours points vouchers and is paid for them monthly (its payable).'},
            bases=['TenantModel', 'Stamped'],
        ),
        ops.CreateModel(
            name='PointsBalance',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person_id', fields.BigIntField()),
                ('balance', fields.BigIntField(default=0)),
            ],
            options={'table': 'points_balance', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'person_id'),), 'pk_attr': 'id', 'table_description': "A person's balance, kept by the database from the entries; never below zero."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='PointsEntry',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person_id', fields.BigIntField()),
                ('kind', fields.CharEnumField(description='AWARD: award\nCAPPED: capped\nREVERSAL: reversal\nREDEEM: redeem\nRETURN: return\nEXPIRY: expiry', enum_type=EntryKind, max_length=16)),
                ('amount', fields.IntField()),
                ('rule_code', fields.CharField(null=True, max_length=64)),
                ('redemption_code', fields.CharField(null=True, max_length=64)),
                ('source_kind', fields.CharField(max_length=32)),
                ('source_id', fields.BigIntField(null=True)),
                ('source_ref', fields.CharField(default='', max_length=128)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('evidence', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('author', fields.CharField(max_length=128)),
                ('occurred_on', fields.DateField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('idempotency_key', fields.CharField(max_length=200)),
                ('reverses_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'points_entry', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'idempotency_key'),), 'indexes': [Index(fields=['tenant_id', 'person_id', 'id'])], 'pk_attr': 'id', 'table_description': "One change to one person's points, once per idempotency key."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='PointsLot',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person_id', fields.BigIntField()),
                ('entry_id', fields.BigIntField()),
                ('amount', fields.IntField()),
                ('remaining', fields.IntField()),
                ('earned_on', fields.DateField()),
                ('expires_on', fields.DateField(null=True)),
                ('expired_entry_id', fields.BigIntField(null=True)),
                ('warned_on', fields.DateField(null=True)),
                ('origin_lot_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'points_lot', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'person_id', 'expires_on', 'id']), Index(fields=['tenant_id', 'expires_on']), Index(fields=['tenant_id', 'entry_id'])], 'pk_attr': 'id', 'table_description': 'What an earning entry left to spend, oldest spent first, until it expires.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='PointsExpiryRun',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('through', fields.DateField()),
                ('lots', fields.IntField()),
                ('people', fields.IntField()),
                ('ran_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_expiry_run', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'through'])], 'pk_attr': 'id', 'table_description': "One nightly expiry: every lot whose expiry day is after the previous run's ``through`` and on or before this"},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='PointsLotUse',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('entry_id', fields.BigIntField()),
                ('lot_id', fields.BigIntField()),
                ('amount', fields.IntField()),
            ],
            options={'table': 'points_lot_use', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'entry_id']), Index(fields=['tenant_id', 'lot_id'])], 'pk_attr': 'id', 'table_description': 'How much a spending entry (redeem, reversal, expiry) took from one lot.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='PointsPeriodTotal',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_key', fields.CharField(max_length=8)),
                ('person_id', fields.BigIntField()),
                ('earned', fields.BigIntField(default=0)),
            ],
            options={'table': 'points_period_total', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'period_key', 'person_id'),), 'pk_attr': 'id', 'table_description': 'Points a person earned (awards less reversals) in a month (2026-01), quarter (2026Q1) and year (2026), by'},
            bases=['TenantModel'],
        ),
        ops.AlterField(
            model_name='Post',
            name='kind',
            field=fields.CharEnumField(description='TENANT_ADMIN: tenant_admin\nSTREET_OFFICER: street_officer\nCOMMUNITY_WORKER: community_worker\nGRID_WORKER: grid_worker\nBUILDING_HEAD: building_head\nSTEWARD: steward\nSUPERVISOR: supervisor\nOWNERS_COMMITTEE: owners_committee\nPROPERTY_COMPANY: property_company\nHOUSING_DEPT: housing_dept\nUNIT_STAFF: unit_staff\nASSESSOR: assessor\nUNIT_HEAD: unit_head\nVOLUNTEER: volunteer\nPARTNER_STAFF: partner_staff', enum_type=PostKind, max_length=32),
        ),
            *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
        ops.RunSQL(LEDGER, reverse_sql=LEDGER_REVERSE),
    ]
