from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.dual.emergency_models import AssignedBy

# Emergency mode and work-group assignments 平急结合 (issue 18 part F): row-level security on both tables; one
# active emergency per community, one assignment per emergency and person, one normal-mode assignment per
# community and person (partial unique indexes: a switch sent twice, or two at once, lands once).
TABLES = ("dual_emergency", "dual_work_group_assignment")

POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

UNIQUE = """
CREATE UNIQUE INDEX dual_emergency_active ON dual_emergency (tenant_id, community_id) WHERE ended_at IS NULL;
CREATE UNIQUE INDEX dual_work_group_in_emergency ON dual_work_group_assignment (tenant_id, emergency_id, person_id)
    WHERE emergency_id IS NOT NULL;
CREATE UNIQUE INDEX dual_work_group_in_normal ON dual_work_group_assignment (tenant_id, community_id, person_id)
    WHERE emergency_id IS NULL;
"""
UNIQUE_REVERSE = """
DROP INDEX dual_work_group_in_normal;
DROP INDEX dual_work_group_in_emergency;
DROP INDEX dual_emergency_active;
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0033_dual_rules')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Emergency',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('reason', fields.CharField(max_length=500)),
                ('groups', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('started_by', fields.CharField(max_length=128)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ended_by', fields.CharField(null=True, max_length=128)),
                ('end_reason', fields.CharField(default='', max_length=500)),
            ],
            options={'table': 'dual_emergency', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'community_id', 'started_at']), Index(fields=['tenant_id', 'street_id', 'started_at']), Index(fields=['tenant_id', 'started_at'])], 'pk_attr': 'id', 'table_description': 'A community in emergency mode 应急状态, from the switch (一键启动) to the stand-down.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='WorkGroupAssignment',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community_id', fields.BigIntField()),
                ('emergency_id', fields.BigIntField(null=True)),
                ('person_id', fields.BigIntField()),
                ('group_code', fields.CharField(max_length=64)),
                ('how', fields.CharEnumField(description='RULE: rule\nHAND: hand', enum_type=AssignedBy, max_length=8)),
                ('assigned_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('assigned_by', fields.CharField(max_length=128)),
                ('notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('removed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('removed_by', fields.CharField(null=True, max_length=128)),
            ],
            options={'table': 'dual_work_group_assignment', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'community_id', 'emergency_id']), Index(fields=['tenant_id', 'person_id'])], 'pk_attr': 'id', 'table_description': 'A person in one work group of a community: in an emergency (``emergency_id``) or in normal times (None).'},
            bases=['TenantModel'],
        ),
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
        ops.RunSQL(UNIQUE, reverse_sql=UNIQUE_REVERSE),
    ]
