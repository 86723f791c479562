from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.assessment.models import InterviewSource, InterviewStatus, InterviewSubject

# Interviews 约谈 generalised (issue 19 part C): any subject (firm, manager, unit, street, community, person), owed
# (by a published black list or an efficiency-office case, due by a day, reminded once, then overdue) or held.
# Existing rows are held interviews with a firm. Commendations 表彰挂牌 of the red list, with their plaque day.
# Partial unique indexes make publication and the efficiency sweep idempotent: one owed interview per period and
# firm from the lists, one per efficiency case and subject; one commendation per period and firm.
POLICY = """
ALTER TABLE commendation ENABLE ROW LEVEL SECURITY;
ALTER TABLE commendation FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON commendation
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

# The migration runs as the tables' owner, which production makes neither superuser nor BYPASSRLS: the FORCE ROW
# LEVEL SECURITY of 0011 would hide every row from this UPDATE (no tenant is set), so it is lifted around it, in
# the migration's transaction, as tenants/config/upgrade.py upgrade_stored does.
BACKFILL = """
ALTER TABLE interview NO FORCE ROW LEVEL SECURITY;
UPDATE interview SET subject_kind = 'firm', subject_id = company_id, status = 'held', source = 'hand', reason = '',
                     follow_up_evidence = ''
WHERE subject_kind IS NULL;
ALTER TABLE interview FORCE ROW LEVEL SECURITY;
"""
SUBJECT = "FIRM: firm\nMANAGER: manager\nUNIT: unit\nSTREET: street\nCOMMUNITY: community\nPERSON: person"
STATUS = "OWED: owed\nHELD: held\nWITHDRAWN: withdrawn"
SOURCE = "RED_BLACK: red_black\nEFFICIENCY: efficiency\nHAND: hand"

UNIQUE = """
CREATE UNIQUE INDEX interview_owed_by_list ON interview (tenant_id, period_key, subject_kind, subject_id)
    WHERE source = 'red_black';
CREATE UNIQUE INDEX interview_owed_by_case ON interview (tenant_id, source_id, subject_kind, subject_id)
    WHERE source = 'efficiency';
"""
UNIQUE_REVERSE = "DROP INDEX interview_owed_by_case; DROP INDEX interview_owed_by_list;"


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0036_meetings')]

    initial = False

    operations = [
        ops.AlterField(model_name='Interview', name='company_id', field=fields.BigIntField(null=True)),
        ops.AlterField(model_name='Interview', name='held_on', field=fields.DateField(null=True)),
        ops.AlterField(model_name='Interview', name='outcome', field=fields.TextField(default='')),
        # New NOT NULL columns are added nullable, filled for the interviews recorded before (held, by hand, with
        # their firm), then made NOT NULL: tortoise's defaults are the application's, not the database's.
        ops.AddField(model_name='Interview', name='subject_kind', field=fields.CharEnumField(null=True, description=SUBJECT, enum_type=InterviewSubject, max_length=12)),
        ops.AddField(model_name='Interview', name='subject_id', field=fields.BigIntField(null=True)),
        ops.AddField(model_name='Interview', name='status', field=fields.CharEnumField(null=True, description=STATUS, enum_type=InterviewStatus, max_length=10)),
        ops.AddField(model_name='Interview', name='source', field=fields.CharEnumField(null=True, description=SOURCE, enum_type=InterviewSource, max_length=12)),
        ops.AddField(model_name='Interview', name='reason', field=fields.TextField(null=True)),
        ops.AddField(model_name='Interview', name='follow_up_evidence', field=fields.TextField(null=True)),
        ops.RunSQL(BACKFILL, reverse_sql="SELECT 1;"),
        ops.AlterField(model_name='Interview', name='subject_kind', field=fields.CharEnumField(default=InterviewSubject.FIRM, description=SUBJECT, enum_type=InterviewSubject, max_length=12)),
        ops.AlterField(model_name='Interview', name='subject_id', field=fields.BigIntField()),
        ops.AlterField(model_name='Interview', name='status', field=fields.CharEnumField(default=InterviewStatus.HELD, description=STATUS, enum_type=InterviewStatus, max_length=10)),
        ops.AlterField(model_name='Interview', name='source', field=fields.CharEnumField(default=InterviewSource.HAND, description=SOURCE, enum_type=InterviewSource, max_length=12)),
        ops.AlterField(model_name='Interview', name='reason', field=fields.TextField(default='')),
        ops.AlterField(model_name='Interview', name='follow_up_evidence', field=fields.TextField(default='')),
        ops.AddField(model_name='Interview', name='snapshot_id', field=fields.BigIntField(null=True)),
        ops.AddField(model_name='Interview', name='source_id', field=fields.BigIntField(null=True)),
        ops.AddField(model_name='Interview', name='due_on', field=fields.DateField(null=True)),
        ops.AddField(model_name='Interview', name='reminded_at', field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
        ops.AddField(model_name='Interview', name='overdue_at', field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
        ops.AddField(model_name='Interview', name='follow_up_reminded_at', field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
        ops.AddField(model_name='Interview', name='follow_up_done_on', field=fields.DateField(null=True)),
        ops.AddField(model_name='Interview', name='withdrawn_at', field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
        ops.AddIndex(model_name='Interview', index=Index(fields=['tenant_id', 'subject_kind', 'subject_id'])),
        ops.AddIndex(model_name='Interview', index=Index(fields=['tenant_id', 'status', 'due_on'])),
        ops.AlterModelOptions(
            name='Interview',
            options={'table': 'interview', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'company_id', 'held_on']), Index(fields=['tenant_id', 'period_key']), Index(fields=['tenant_id', 'subject_kind', 'subject_id']), Index(fields=['tenant_id', 'status', 'due_on'])], 'pk_attr': 'id', 'table_description': '约谈: owed (by a published black list or an efficiency-office case) or held, with a firm, a manager, a unit'},
        ),
        ops.RunSQL(UNIQUE, reverse_sql=UNIQUE_REVERSE),
        ops.CreateModel(
            name='Commendation',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('company_id', fields.BigIntField()),
                ('period_key', fields.CharField(max_length=8)),
                ('snapshot_id', fields.BigIntField()),
                ('rank', fields.IntField()),
                ('score', fields.DecimalField(max_digits=5, decimal_places=2)),
                ('plaque_on', fields.DateField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'commendation', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'period_key', 'company_id'),), 'indexes': [Index(fields=['tenant_id', 'company_id', 'period_key'])], 'pk_attr': 'id', 'table_description': '表彰挂牌: a firm on a published red list 红榜, with the day its plaque is hung (set by hand).'},
            bases=['TenantModel'],
        ),
        ops.RunSQL(POLICY, reverse_sql="DROP POLICY tenant_isolation ON commendation;"
                   " ALTER TABLE commendation DISABLE ROW LEVEL SECURITY;"),
    ]
