from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.dual.rule_models import CaseKind, TalkStatus

# 双报到 absence rules and year-end runs (issue 18 part E): talks 谈话 and notices 通报 opened once per (kind,
# trigger sign-up), and a year-end roll-up sent once per work unit and year; row-level security on each.
TABLES = ("dual_absence_case", "dual_year_end_run")

POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0032_dual_lists')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AbsenceCase',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='TALK: talk\nNOTICE: notice', enum_type=CaseKind, max_length=8)),
                ('person_id', fields.BigIntField()),
                ('registration_id', fields.BigIntField()),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('work_unit_id', fields.BigIntField(null=True)),
                ('signup_id', fields.BigIntField()),
                ('activity_id', fields.BigIntField()),
                ('absent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('absences', fields.IntField()),
                ('opened_on', fields.DateField()),
                ('due_on', fields.DateField(null=True)),
                ('status', fields.CharEnumField(default=TalkStatus.OPEN, description='OPEN: open\nDONE: done\nWITHDRAWN: withdrawn', enum_type=TalkStatus, max_length=12)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('outcome', fields.CharField(default='', max_length=2000)),
                ('held_on', fields.DateField(null=True)),
                ('closed_by', fields.CharField(null=True, max_length=128)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_absence_case', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'kind', 'signup_id'),), 'indexes': [Index(fields=['tenant_id', 'kind', 'community_id', 'status']), Index(fields=['tenant_id', 'person_id', 'absent_at']), Index(fields=['tenant_id', 'kind', 'work_unit_id']), Index(fields=['tenant_id', 'kind', 'status', 'due_on'])], 'pk_attr': 'id', 'table_description': "A talk or a notice opened because a member's absences in a row reached a configured count."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='YearEndRun',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('year', fields.IntField()),
                ('work_unit_id', fields.BigIntField()),
                ('recipients', fields.IntField()),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_year_end_run', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'year', 'work_unit_id'),), 'pk_attr': 'id', 'table_description': "A work unit's contacts were sent its roll-up of a year (once per unit and year)."},
            bases=['TenantModel'],
        ),
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
    ]
