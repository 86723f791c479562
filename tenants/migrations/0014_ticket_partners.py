from tortoise import migrations
from tortoise.migrations import operations as ops
from tenants.tickets.models import PartnerTaskState, RatingChannel, UnitKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

POLICY = """
ALTER TABLE ticket_partner_task ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_partner_task FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ticket_partner_task
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

# The reminder tick finds partner tasks not accepted in time through this index (never a scan); the hand-over
# of a unit finds its latest on-time resolution through the second.
INDEXES = """
CREATE INDEX ticket_partner_task_pending ON ticket_partner_task (tenant_id, accept_due_at)
    WHERE state = 'pending' AND escalated_at IS NULL;
CREATE INDEX ticket_on_time_by_unit ON ticket (tenant_id, assignee_kind, assignee_id, resolved_at)
    WHERE resolved_on_time;
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0013_money_rls')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PartnerTask',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket_id', fields.BigIntField()),
                ('unit_kind', fields.CharEnumField(description='COMMUNITY: community\nPROPERTY_COMPANY: property_company\nSTREET: street\nCOUNTY_DEPARTMENT: county_department\nHOUSING_DEPT: housing_dept', enum_type=UnitKind, max_length=24)),
                ('unit_id', fields.BigIntField()),
                ('state', fields.CharEnumField(default=PartnerTaskState.PENDING, description='PENDING: pending\nACCEPTED: accepted\nCOMPLETED: completed', enum_type=PartnerTaskState, max_length=16)),
                ('accept_due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('accepted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('accepted_by', fields.CharField(null=True, max_length=128)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_by', fields.CharField(null=True, max_length=128)),
                ('note', fields.TextField(default='', unique=False)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ticket_partner_task', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'ticket_id', 'unit_kind', 'unit_id'),), 'indexes': [Index(fields=['tenant_id', 'unit_kind', 'unit_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "怎么配合干: a partner unit's co-handling task on a ticket, with its own acceptance and due time."},
            bases=['TenantModel'],
        ),
        ops.AddField(
            model_name='Ticket',
            name='rating_channel',
            field=fields.CharEnumField(null=True, description='APP: app\nPHONE: phone\nVISIT: visit\nSMS: sms', enum_type=RatingChannel, max_length=16),
        ),
        ops.RunSQL(POLICY, reverse_sql="DROP POLICY tenant_isolation ON ticket_partner_task;"
                   " ALTER TABLE ticket_partner_task DISABLE ROW LEVEL SECURITY;"),
        ops.RunSQL(INDEXES, reverse_sql="DROP INDEX ticket_on_time_by_unit; DROP INDEX ticket_partner_task_pending;"),
    ]
