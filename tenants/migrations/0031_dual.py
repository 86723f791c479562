from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.dual.models import ActivityStatus, Attendance, MemberPostKind, RegistrationStatus, SignupStatus
from tenants.territory.parties import WorkUnitKind
from tenants.territory.people import PostKind

# 双报到 core (issue 18): work units, their and in-service party members' registrations at communities, members'
# posts, activities and sign-ups; row-level security on each; one current registration per member and per unit and
# community (a member: one approved and one pending, a move waiting beside the registration it replaces), one
# holder per building-head post (the building's lock, and a unique index as the backstop), and an activity's waiting line without two people in one place.
TABLES = ("work_unit", "dual_unit_registration", "dual_member_registration", "dual_member_post", "dual_activity",
          "dual_signup")

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
CREATE UNIQUE INDEX dual_member_registration_approved ON dual_member_registration (tenant_id, person_id)
    WHERE status = 'approved';
CREATE UNIQUE INDEX dual_member_registration_pending ON dual_member_registration (tenant_id, person_id)
    WHERE status = 'pending';
CREATE UNIQUE INDEX dual_unit_registration_current ON dual_unit_registration (tenant_id, work_unit_id, community_id)
    WHERE status IN ('pending', 'approved');
CREATE UNIQUE INDEX dual_member_post_held ON dual_member_post (tenant_id, person_id, kind, coalesce(building_id, 0), role)
    WHERE ends_on IS NULL;
CREATE UNIQUE INDEX dual_signup_waiting ON dual_signup (tenant_id, activity_id, position) WHERE status = 'waiting';
ALTER TABLE dual_signup ADD CONSTRAINT dual_signup_minutes CHECK (minutes >= 0 AND minutes <= 1440);
ALTER TABLE dual_activity ADD CONSTRAINT dual_activity_capacity CHECK (capacity > 0 AND capacity <= 100000);
ALTER TABLE dual_activity ADD CONSTRAINT dual_activity_times CHECK (ends_at > starts_at);
CREATE UNIQUE INDEX dual_member_post_building_head ON dual_member_post (tenant_id, building_id, kind)
    WHERE ends_on IS NULL AND kind IN ('online_building_head', 'offline_building_head');
"""
UNIQUE_REVERSE = """
DROP INDEX dual_member_post_building_head;
ALTER TABLE dual_activity DROP CONSTRAINT dual_activity_times;
ALTER TABLE dual_activity DROP CONSTRAINT dual_activity_capacity;
ALTER TABLE dual_signup DROP CONSTRAINT dual_signup_minutes;
DROP INDEX dual_signup_waiting;
DROP INDEX dual_member_post_held;
DROP INDEX dual_unit_registration_current;
DROP INDEX dual_member_registration_pending;
DROP INDEX dual_member_registration_approved;
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0030_dual_config')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Activity',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('title', fields.CharField(max_length=200)),
                ('kind', fields.CharField(max_length=64)),
                ('place', fields.CharField(default='', max_length=200)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('capacity', fields.IntField()),
                ('posts_needed', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('outside_working_hours', fields.BooleanField()),
                ('status', fields.CharEnumField(default=ActivityStatus.OPEN, description='OPEN: open\nCLOSED: closed\nCANCELLED: cancelled', enum_type=ActivityStatus, max_length=12)),
                ('checkin_key', fields.CharField(max_length=64)),
                ('created_by', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_by', fields.CharField(null=True, max_length=128)),
                ('rules_run_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_activity', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'community_id', 'starts_at']), Index(fields=['tenant_id', 'status', 'ends_at']), Index(fields=['tenant_id', 'starts_at'])], 'pk_attr': 'id', 'table_description': 'A community activity 活动 members sign up for or are assigned to.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='MemberPost',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('registration_id', fields.BigIntField()),
                ('person_id', fields.BigIntField()),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('kind', fields.CharEnumField(description='ONLINE_BUILDING_HEAD: online_building_head\nOFFLINE_BUILDING_HEAD: offline_building_head\nVOLUNTEER: volunteer', enum_type=MemberPostKind, max_length=24)),
                ('building_id', fields.BigIntField(null=True)),
                ('role', fields.CharField(default='', max_length=100)),
                ('starts_on', fields.DateField()),
                ('ends_on', fields.DateField(null=True)),
                ('created_by', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_member_post', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'community_id', 'kind']), Index(fields=['tenant_id', 'person_id']), Index(fields=['tenant_id', 'building_id'])], 'pk_attr': 'id', 'table_description': 'A post a registered member holds at their community: a building head of a building, or a volunteer role.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='MemberRegistration',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person_id', fields.BigIntField()),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('work_unit_id', fields.BigIntField(null=True)),
                ('work_unit_name', fields.CharField(default='', max_length=200)),
                ('party_org', fields.CharField(max_length=200)),
                ('building_id', fields.BigIntField(null=True)),
                ('skills', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharEnumField(default=RegistrationStatus.PENDING, description='PENDING: pending\nAPPROVED: approved\nREJECTED: rejected\nMOVED: moved\nENDED: ended', enum_type=RegistrationStatus, max_length=12)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('replaces_id', fields.BigIntField(null=True)),
                ('starts_on', fields.DateField(null=True)),
                ('ends_on', fields.DateField(null=True)),
                ('self_registered', fields.BooleanField(default=False)),
                ('created_by', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_by', fields.CharField(null=True, max_length=128)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_member_registration', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'community_id', 'status']), Index(fields=['tenant_id', 'work_unit_id', 'status']), Index(fields=['tenant_id', 'person_id'])], 'pk_attr': 'id', 'table_description': 'An in-service party member 在职党员 registered at their residence community, naming their work unit and party'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Signup',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity_id', fields.BigIntField()),
                ('person_id', fields.BigIntField()),
                ('registration_id', fields.BigIntField(null=True)),
                ('community_id', fields.BigIntField()),
                ('status', fields.CharEnumField(description='SIGNED: signed\nWAITING: waiting\nASSIGNED: assigned\nCANCELLED: cancelled', enum_type=SignupStatus, max_length=12)),
                ('position', fields.IntField(null=True)),
                ('post', fields.CharField(default='', max_length=100)),
                ('attendance', fields.CharEnumField(null=True, description='PRESENT: present\nABSENT: absent', enum_type=Attendance, max_length=8)),
                ('checked_in_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('checked_in_by', fields.CharField(null=True, max_length=128)),
                ('minutes', fields.IntField(default=0)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('outside_working_hours', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_signup', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'activity_id', 'person_id'),), 'indexes': [Index(fields=['tenant_id', 'person_id', 'starts_at']), Index(fields=['tenant_id', 'activity_id', 'status', 'position'])], 'pk_attr': 'id', 'table_description': "One member's place on an activity: signed up, waiting or assigned; then present or absent, and hours."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='UnitRegistration',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('work_unit_id', fields.BigIntField()),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('resources', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('agreement_from', fields.DateField()),
                ('agreement_until', fields.DateField(null=True)),
                ('status', fields.CharEnumField(default=RegistrationStatus.PENDING, description='PENDING: pending\nAPPROVED: approved\nREJECTED: rejected\nMOVED: moved\nENDED: ended', enum_type=RegistrationStatus, max_length=12)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('created_by', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_by', fields.CharField(null=True, max_length=128)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_unit_registration', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'community_id', 'status']), Index(fields=['tenant_id', 'work_unit_id', 'status'])], 'pk_attr': 'id', 'table_description': 'A work unit registered with one community: the resources it offers 资源清单 and the agreement period.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='WorkUnit',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('kind', fields.CharEnumField(description='ORGAN: organ\nINSTITUTION: institution\nENTERPRISE: enterprise', enum_type=WorkUnitKind, max_length=16)),
                ('code', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('party_org', fields.CharField(default='', max_length=200)),
                ('contact_name', fields.CharField(default='', max_length=100)),
                ('contact_phone', fields.CharField(default='', max_length=32)),
                ('is_active', fields.BooleanField(default=True)),
            ],
            options={'table': 'work_unit', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'code'),), 'pk_attr': 'id', 'table_description': 'A work unit 机关、企事业单位 whose party organisation and in-service members register at communities (双报到).'},
            bases=['TenantModel', 'Stamped'],
        ),
        ops.AlterField(
            model_name='Post',
            name='kind',
            field=fields.CharEnumField(description='TENANT_ADMIN: tenant_admin\nSTREET_OFFICER: street_officer\nCOMMUNITY_WORKER: community_worker\nGRID_WORKER: grid_worker\nBUILDING_HEAD: building_head\nSTEWARD: steward\nSUPERVISOR: supervisor\nOWNERS_COMMITTEE: owners_committee\nPROPERTY_COMPANY: property_company\nHOUSING_DEPT: housing_dept\nUNIT_STAFF: unit_staff\nASSESSOR: assessor\nUNIT_HEAD: unit_head\nVOLUNTEER: volunteer\nPARTNER_STAFF: partner_staff\nWORK_UNIT_CONTACT: work_unit_contact', enum_type=PostKind, max_length=32),
        ),
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
        ops.RunSQL(UNIQUE, reverse_sql=UNIQUE_REVERSE),
    ]
