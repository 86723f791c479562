from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tenants.assessment.models import ListMark, RoundStatus, SnapshotStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0009_unit_staff_posts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AssessmentRound',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_key', fields.CharField(max_length=8)),
                ('starts_on', fields.DateField()),
                ('ends_on', fields.DateField()),
                ('deadline', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=RoundStatus.OPEN, description='OPEN: open\nCLOSED: closed', enum_type=RoundStatus, max_length=8)),
                ('config_version', fields.IntField(null=True)),
                ('opened_by', fields.CharField(max_length=128)),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'assessment_round', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'period_key'),), 'pk_attr': 'id', 'table_description': "One period's assessment (a month or a quarter, per configuration) with a submission deadline."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='CompanyRating',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('snapshot_id', fields.BigIntField()),
                ('company_id', fields.BigIntField()),
                ('score', fields.DecimalField(max_digits=5, decimal_places=2)),
                ('rank', fields.IntField()),
                ('star', fields.BooleanField(default=False)),
                ('mark', fields.CharEnumField(default=ListMark.NONE, description='COMMENDED: commended\nINTERVIEWED: interviewed\nNONE: none', enum_type=ListMark, max_length=12)),
                ('breakdown', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'company_rating', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'snapshot_id', 'company_id'),), 'indexes': [Index(fields=['tenant_id', 'company_id', 'snapshot_id']), Index(fields=['tenant_id', 'snapshot_id', 'rank'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='CompoundRating',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('snapshot_id', fields.BigIntField()),
                ('compound_id', fields.BigIntField()),
                ('company_id', fields.BigIntField()),
                ('score', fields.DecimalField(max_digits=5, decimal_places=2)),
                ('body_part', fields.DecimalField(max_digits=5, decimal_places=2)),
                ('objective_part', fields.DecimalField(null=True, max_digits=5, decimal_places=2)),
                ('deductions', fields.DecimalField(max_digits=5, decimal_places=2)),
                ('rank', fields.IntField()),
                ('breakdown', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'compound_rating', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'snapshot_id', 'compound_id'),), 'indexes': [Index(fields=['tenant_id', 'snapshot_id', 'rank'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Interview',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('company_id', fields.BigIntField()),
                ('period_key', fields.CharField(max_length=8)),
                ('held_on', fields.DateField()),
                ('attendees', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('outcome', fields.TextField(unique=False)),
                ('follow_up', fields.TextField(default='', unique=False)),
                ('follow_up_due', fields.DateField(null=True)),
                ('recorded_by', fields.CharField(max_length=128)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'interview', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'company_id', 'held_on']), Index(fields=['tenant_id', 'period_key'])], 'pk_attr': 'id', 'table_description': '约谈: a meeting with a firm on the black list, and what came of it.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='RatingSnapshot',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_key', fields.CharField(max_length=8)),
                ('revision', fields.IntField(default=1)),
                ('status', fields.CharEnumField(default=SnapshotStatus.DRAFT, description='DRAFT: draft\nPUBLISHED: published', enum_type=SnapshotStatus, max_length=12)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('config_version', fields.IntField(null=True)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('published_by', fields.CharField(null=True, max_length=128)),
            ],
            options={'table': 'rating_snapshot', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'period_key', 'revision'),), 'pk_attr': 'id', 'table_description': 'The ratings of a period. A draft is recomputed by each run; a published one never changes: a correction is'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='ScoreSubmission',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('round_id', fields.BigIntField()),
                ('compound_id', fields.BigIntField()),
                ('body_code', fields.CharField(max_length=64)),
                ('revision', fields.IntField(default=1)),
                ('scores', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('notes', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('submitted_by', fields.CharField(max_length=128)),
                ('submitted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'score_submission', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'round_id', 'compound_id', 'body_code', 'revision'),), 'pk_attr': 'id', 'table_description': "A body's scores for one compound in a round. Submitted once and locked; a correction is a new revision"},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='SupervisorFinding',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('compound_id', fields.BigIntField()),
                ('description', fields.TextField(unique=False)),
                ('photo_url', fields.CharField(default='', max_length=500)),
                ('found_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolve_by', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('recorded_by', fields.CharField(max_length=128)),
            ],
            options={'table': 'supervisor_finding', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'compound_id', 'found_at']), Index(fields=['tenant_id', 'found_at'])], 'pk_attr': 'id', 'table_description': "A community supervisor's finding 小区监督员发现的问题 against a compound."},
            bases=['TenantModel'],
        ),
    ]
