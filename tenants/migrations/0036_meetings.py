from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.meetings.models import DecisionStatus, OwnerKind, TargetKind

# Joint meetings (issue 19 part B): series, meetings, attendance, agenda items, decisions, their timeline and the
# compliance flags, each with row-level security; unique keys make a series and a flag land once.
TABLES = ("meeting_series", "meeting", "meeting_attendance", "meeting_agenda_item", "meeting_decision",
          "meeting_decision_event", "meeting_compliance_flag")

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
    dependencies = [('civicgrid', '0035_config_meetings')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AgendaItem',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('meeting_id', fields.BigIntField()),
                ('position', fields.IntField()),
                ('text', fields.CharField(default='', max_length=1000)),
                ('ticket_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'meeting_agenda_item', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'meeting_id', 'position'),), 'pk_attr': 'id', 'table_description': 'An agenda item: free text, or tickets the meeting takes up (社区点题、部门答题: escalated with the meeting).'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='ComplianceFlag',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('target_kind', fields.CharEnumField(description='COMMUNITY: community\nCOMPOUND: compound', enum_type=TargetKind, max_length=16)),
                ('target_id', fields.BigIntField()),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('period_key', fields.CharField(max_length=16)),
                ('flagged_on', fields.DateField()),
                ('flagged_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_by_meeting_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'meeting_compliance_flag', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'target_kind', 'target_id', 'period_key'),), 'indexes': [Index(fields=['tenant_id', 'period_key']), Index(fields=['tenant_id', 'community_id', 'period_key'])], 'pk_attr': 'id', 'table_description': "A community or compound that held no meeting in a period, flagged on the next period's first day."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Decision',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('meeting_id', fields.BigIntField()),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('owner_kind', fields.CharEnumField(description='UNIT: unit\nCOMPANY: company', enum_type=OwnerKind, max_length=16)),
                ('owner_id', fields.BigIntField()),
                ('due_on', fields.DateField()),
                ('description', fields.CharField(max_length=2000)),
                ('status', fields.CharEnumField(default=DecisionStatus.OPEN, description='OPEN: open\nDONE: done\nCANCELLED: cancelled', enum_type=DecisionStatus, max_length=16)),
                ('done_on', fields.DateField(null=True)),
                ('evidence', fields.CharField(default='', max_length=2000)),
                ('evidence_links', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('overdue_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('escalation_level', fields.IntField(default=0)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'meeting_decision', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'status', 'due_on']), Index(fields=['tenant_id', 'meeting_id']), Index(fields=['tenant_id', 'community_id', 'due_on']), Index(fields=['tenant_id', 'street_id', 'due_on'])], 'pk_attr': 'id', 'table_description': 'A decision of a meeting 会议决定事项: an owner unit or firm, a due day, followed to done or cancelled.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='DecisionEvent',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('decision_id', fields.BigIntField()),
                ('action', fields.CharField(max_length=32)),
                ('actor', fields.CharField(max_length=128)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('note', fields.CharField(default='', max_length=2000)),
            ],
            options={'table': 'meeting_decision_event', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'decision_id', 'at'])], 'pk_attr': 'id', 'table_description': "A decision's timeline (append-only): added, reminded, overdue, escalated, done, cancelled."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Meeting',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('series_id', fields.BigIntField()),
                ('target_kind', fields.CharEnumField(description='COMMUNITY: community\nCOMPOUND: compound', enum_type=TargetKind, max_length=16)),
                ('target_id', fields.BigIntField()),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('held_on', fields.DateField()),
                ('convenor', fields.CharField(max_length=200)),
                ('minutes', fields.TextField(default='', unique=False)),
                ('photo_links', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('recorded_by', fields.CharField(max_length=128)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'meeting', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'target_kind', 'target_id', 'held_on']), Index(fields=['tenant_id', 'community_id', 'held_on']), Index(fields=['tenant_id', 'street_id', 'held_on']), Index(fields=['tenant_id', 'held_on'])], 'pk_attr': 'id', 'table_description': 'One meeting held: day, convenor, minutes, photo links (attendance and agenda in their own tables).'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='MeetingAttendance',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('meeting_id', fields.BigIntField()),
                ('party', fields.CharField(max_length=64)),
                ('names', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'meeting_attendance', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'meeting_id', 'party'),), 'pk_attr': 'id', 'table_description': "Who came for one party (residents' committee, owners' committee, the firm ...)."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='MeetingSeries',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('target_kind', fields.CharEnumField(description='COMMUNITY: community\nCOMPOUND: compound', enum_type=TargetKind, max_length=16)),
                ('target_id', fields.BigIntField()),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('cadence', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'meeting_series', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'target_kind', 'target_id'),), 'indexes': [Index(fields=['tenant_id', 'community_id']), Index(fields=['tenant_id', 'street_id'])], 'pk_attr': 'id', 'table_description': 'The joint meetings of one community or compound 联席会议 (cadence and parties as configured when made).'},
            bases=['TenantModel'],
        ),
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
    ]
