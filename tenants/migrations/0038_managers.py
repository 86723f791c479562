from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.assessment.manager_models import EliminationOutcome, EliminationTarget

# Property managers 物业经理 (issue 19 part D): the managers, their history on contracts (撤换调整), the decisions
# on yearly elimination candidates. Row-level security on each table; at most one open manager row per contract
# (a partial unique index: two assignments at once land once); one decision per candidate and year.
TABLES = ("property_manager", "contract_manager", "elimination_decision")

POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""
REVERSE = "DROP POLICY tenant_isolation ON {table}; ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"

UNIQUE = "CREATE UNIQUE INDEX contract_manager_open ON contract_manager (tenant_id, contract_id) WHERE ends_on IS NULL;"


def _tenant():  # type: ignore[no-untyped-def]
    return ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True,
                                             to_field='id', related_name=False, on_delete=OnDelete.RESTRICT))


def _id():  # type: ignore[no-untyped-def]
    return ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True))


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0037_interviews')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PropertyManager',
            fields=[
                _tenant(),
                _id(),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('company_id', fields.BigIntField()),
                ('name', fields.CharField(max_length=100)),
                ('phone', fields.CharField(default='', max_length=32)),
                ('is_active', fields.BooleanField(default=True)),
            ],
            options={'table': 'property_manager', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'company_id'])], 'pk_attr': 'id', 'table_description': 'A property manager: the person a firm names on its contracts to run a compound.'},
            bases=['TenantModel', 'Stamped'],
        ),
        ops.CreateModel(
            name='ContractManager',
            fields=[
                _tenant(),
                _id(),
                ('contract_id', fields.BigIntField()),
                ('manager_id', fields.BigIntField()),
                ('starts_on', fields.DateField()),
                ('ends_on', fields.DateField(null=True)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('successor_id', fields.BigIntField(null=True)),
                ('end_reason', fields.CharField(default='', max_length=500)),
                ('assigned_by', fields.CharField(max_length=128)),
                ('assigned_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'contract_manager', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'contract_id', 'starts_on'),), 'indexes': [Index(fields=['tenant_id', 'manager_id'])], 'pk_attr': 'id', 'table_description': 'A property manager named on a contract for a span of days; the rows of a contract are its history.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='EliminationDecision',
            fields=[
                _tenant(),
                _id(),
                ('target_kind', fields.CharEnumField(description='FIRM: firm\nMANAGER: manager', enum_type=EliminationTarget, max_length=8)),
                ('target_id', fields.BigIntField()),
                ('year', fields.IntField()),
                ('outcome', fields.CharEnumField(description='KEPT: kept\nWARNED: warned\nREPLACED: replaced', enum_type=EliminationOutcome, max_length=8)),
                ('reason', fields.CharField(max_length=500)),
                ('contract_manager_id', fields.BigIntField(null=True)),
                ('decided_by', fields.CharField(max_length=128)),
                ('decided_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'elimination_decision', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'year', 'target_kind', 'target_id'),), 'pk_attr': 'id', 'table_description': 'What was decided about one candidate of a year: one decision per target and year.'},
            bases=['TenantModel'],
        ),
        *(ops.RunSQL(POLICY.format(table=t), reverse_sql=REVERSE.format(table=t)) for t in TABLES),
        ops.RunSQL(UNIQUE, reverse_sql="DROP INDEX contract_manager_open;"),
    ]
