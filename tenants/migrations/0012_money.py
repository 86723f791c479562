from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tenants.bonds.models import BondKind
from tenants.brand.models import ProjectStatus
from tenants.subsidies.models import LineKind, StatementStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0011_assessment_rls')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BondTopUp',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract_id', fields.BigIntField()),
                ('company_id', fields.BigIntField()),
                ('required_fen', fields.BigIntField()),
                ('shortfall_fen', fields.BigIntField()),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('due_on', fields.DateField()),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('late_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('settled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'bond_top_up', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'contract_id', 'opened_at']), Index(fields=['tenant_id', 'settled_at', 'due_on'])], 'pk_attr': 'id', 'table_description': 'A top-up owed: opened when a drawdown leaves the balance below the required amount, settled when deposits'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='BondTransaction',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract_id', fields.BigIntField()),
                ('company_id', fields.BigIntField()),
                ('kind', fields.CharEnumField(description='DEPOSIT: deposit\nDRAWDOWN: drawdown\nREFUND: refund', enum_type=BondKind, max_length=10)),
                ('amount_fen', fields.BigIntField()),
                ('balance_after_fen', fields.BigIntField()),
                ('reason', fields.CharField(default='', max_length=500)),
                ('reference', fields.CharField(default='', max_length=128)),
                ('ticket_id', fields.BigIntField(null=True)),
                ('journal_id', fields.BigIntField()),
                ('actor', fields.CharField(max_length=128)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'bond_transaction', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'contract_id', 'at', 'id']), Index(fields=['tenant_id', 'company_id', 'id'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='BrandProject',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community_id', fields.BigIntField()),
                ('year', fields.IntField()),
                ('title', fields.CharField(max_length=200)),
                ('aim', fields.TextField(unique=False)),
                ('budget_requested_fen', fields.BigIntField()),
                ('status', fields.CharEnumField(default=ProjectStatus.DECLARED, description='DECLARED: declared\nAPPROVED: approved\nREJECTED: rejected\nEVALUATED: evaluated\nACCEPTED: accepted\nFAILED: failed\nPAID: paid', enum_type=ProjectStatus, max_length=10)),
                ('amount_awarded_fen', fields.BigIntField(null=True)),
                ('payment_reference', fields.CharField(null=True, max_length=128)),
                ('declared_by', fields.CharField(max_length=128)),
                ('declared_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'brand_project', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'year', 'community_id']), Index(fields=['tenant_id', 'year', 'status'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='BrandProjectStep',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project_id', fields.BigIntField()),
                ('step', fields.CharField(max_length=10)),
                ('actor', fields.CharField(max_length=128)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('note', fields.TextField(default='', unique=False)),
                ('passed', fields.BooleanField(null=True)),
                ('amount_fen', fields.BigIntField(null=True)),
                ('reference', fields.CharField(null=True, max_length=128)),
            ],
            options={'table': 'brand_project_step', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'project_id', 'step'),), 'pk_attr': 'id', 'table_description': 'The record of each step (declare, approve, reject, evaluate, accept, fail, pay): who, when, what.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='LedgerBalance',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.CharField(max_length=96)),
                ('balance_fen', fields.BigIntField(default=0)),
            ],
            options={'table': 'ledger_balance', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'account'),), 'pk_attr': 'id', 'table_description': 'The running balance of an account, maintained by the database from the postings.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='LedgerJournal',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('idempotency_key', fields.CharField(max_length=160)),
                ('period', fields.CharField(max_length=8)),
                ('reason', fields.CharField(max_length=500)),
                ('source_kind', fields.CharField(max_length=32)),
                ('source_id', fields.BigIntField(null=True)),
                ('author', fields.CharField(max_length=128)),
                ('posted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reverses_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'ledger_journal', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'idempotency_key'), ('tenant_id', 'reverses_id')), 'indexes': [Index(fields=['tenant_id', 'source_kind', 'source_id'])], 'pk_attr': 'id', 'table_description': 'One business event (an approved statement, a payment, a bond drawdown) with its idempotency key.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='LedgerPosting',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('journal_id', fields.BigIntField()),
                ('account', fields.CharField(max_length=96)),
                ('amount_fen', fields.BigIntField()),
            ],
            options={'table': 'ledger_posting', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'account', 'id']), Index(fields=['tenant_id', 'journal_id'])], 'pk_attr': 'id', 'table_description': 'One amount on one account; the postings of a journal sum to zero (checked at commit).'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='SettlementLine',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('statement_id', fields.BigIntField()),
                ('position', fields.IntField()),
                ('kind', fields.CharEnumField(default=LineKind.RATING, description='RATING: rating\nADJUSTMENT: adjustment', enum_type=LineKind, max_length=12)),
                ('for_period', fields.CharField(max_length=8)),
                ('compound_id', fields.BigIntField()),
                ('company_id', fields.BigIntField()),
                ('score', fields.DecimalField(null=True, max_digits=5, decimal_places=2)),
                ('band_min_score', fields.DecimalField(null=True, max_digits=5, decimal_places=2)),
                ('share_percent', fields.IntField(null=True)),
                ('rule', fields.CharField(max_length=500)),
                ('amount_fen', fields.BigIntField()),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'settlement_line', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'statement_id', 'position'),), 'indexes': [Index(fields=['tenant_id', 'company_id', 'statement_id']), Index(fields=['tenant_id', 'for_period', 'compound_id'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='SettlementStatement',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_key', fields.CharField(max_length=8)),
                ('community_id', fields.BigIntField()),
                ('status', fields.CharEnumField(default=StatementStatus.DRAFT, description='DRAFT: draft\nAPPROVED: approved\nPAID: paid', enum_type=StatementStatus, max_length=8)),
                ('pool_fen', fields.BigIntField()),
                ('total_fen', fields.BigIntField()),
                ('config_version', fields.IntField(null=True)),
                ('rule', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('basis', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('computed_by', fields.CharField(max_length=128)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('approved_by', fields.CharField(null=True, max_length=128)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('paid_by', fields.CharField(null=True, max_length=128)),
                ('payment_reference', fields.CharField(null=True, max_length=128)),
            ],
            options={'table': 'settlement_statement', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'period_key', 'community_id'),), 'indexes': [Index(fields=['tenant_id', 'community_id', 'period_key']), Index(fields=['tenant_id', 'status', 'period_key'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]
