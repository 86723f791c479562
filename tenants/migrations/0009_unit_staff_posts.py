from tortoise import migrations
from tortoise.migrations import operations as ops
from tenants.territory.people import PostKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0008_ticket_sla_due')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Post',
            name='kind',
            field=fields.CharEnumField(description='TENANT_ADMIN: tenant_admin\nSTREET_OFFICER: street_officer\nCOMMUNITY_WORKER: community_worker\nGRID_WORKER: grid_worker\nBUILDING_HEAD: building_head\nSTEWARD: steward\nSUPERVISOR: supervisor\nOWNERS_COMMITTEE: owners_committee\nPROPERTY_COMPANY: property_company\nHOUSING_DEPT: housing_dept\nUNIT_STAFF: unit_staff\nASSESSOR: assessor', enum_type=PostKind, max_length=32),
        ),
    ]
