from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tenants.jobruns.models import JobRunStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Tenant',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slug', fields.CharField(unique=True, max_length=63)),
                ('name', fields.CharField(max_length=200)),
                ('parent', fields.ForeignKeyField('civicgrid.Tenant', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.RESTRICT)),
                ('timezone', fields.CharField(default='Asia/Shanghai', max_length=64)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'tenant', 'app': 'civicgrid', 'pk_attr': 'id', 'table_description': 'A city 市 or a county/district 县/区; a district may sit under its city (``parent``).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=64)),
                ('period_key', fields.CharField(max_length=32)),
                ('run_no', fields.IntField(default=1)),
                ('status', fields.CharEnumField(default=JobRunStatus.RUNNING, description='RUNNING: running\nSUCCEEDED: succeeded\nFAILED: failed', enum_type=JobRunStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('job_id', fields.CharField(null=True, max_length=200)),
                ('counts', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'job_run', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'kind', 'period_key', 'run_no'), ('tenant_id', 'kind', 'period_key', 'job_id')), 'indexes': [Index(fields=['tenant_id', 'created_at', 'id'])], 'pk_attr': 'id', 'table_description': 'One run of a job kind for one tenant and period. ``run_no`` > 1 only for explicit re-runs.'},
            bases=['TenantModel'],
        ),
    ]
