from tortoise import migrations
from tortoise.migrations import operations as ops

TABLES = (
    "ledger_journal", "ledger_posting", "ledger_balance", "settlement_statement", "settlement_line",
    "brand_project", "brand_project_step", "bond_transaction", "bond_top_up",
)

POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

# Balances follow the postings (a trigger in the same transaction); accounts that hold money never go below
# zero; every journal sums to zero when its transaction commits.
LEDGER = """
ALTER TABLE ledger_posting ADD CONSTRAINT ledger_posting_nonzero CHECK (amount_fen <> 0);
ALTER TABLE ledger_balance ADD CONSTRAINT ledger_balance_non_negative
    CHECK (balance_fen >= 0 OR split_part(account, ':', 1) NOT IN ('bond', 'subsidy_pool', 'brand_cap'));
CREATE FUNCTION civicgrid_ledger_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- (an upsert would check the CHECK against the bare amount before merging it, so open then add)
    INSERT INTO ledger_balance (tenant_id, account, balance_fen) VALUES (NEW.tenant_id, NEW.account, 0)
    ON CONFLICT (tenant_id, account) DO NOTHING;
    UPDATE ledger_balance SET balance_fen = balance_fen + NEW.amount_fen
    WHERE tenant_id = NEW.tenant_id AND account = NEW.account;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_posting_balance AFTER INSERT ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION civicgrid_ledger_balance();
CREATE FUNCTION civicgrid_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total bigint;
BEGIN
    SELECT SUM(amount_fen) INTO total FROM ledger_posting WHERE tenant_id = NEW.tenant_id AND journal_id = NEW.journal_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger journal % does not balance (sum %)', NEW.journal_id, total;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION civicgrid_journal_balanced();
"""

# An approved or paid statement never changes, except approved -> paid with the payment's fields; its lines
# can be neither inserted, changed nor deleted. A draft is replaced freely.
STATEMENTS = """
CREATE FUNCTION civicgrid_statement_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'settlement_statement' THEN
        IF OLD.status = 'paid' OR (OLD.status = 'approved' AND (
                TG_OP = 'DELETE' OR NEW.status <> 'paid'
                OR (NEW.period_key, NEW.community_id, NEW.pool_fen, NEW.total_fen, NEW.rule, NEW.basis,
                    NEW.approved_at, NEW.approved_by, NEW.computed_at)
                   IS DISTINCT FROM
                   (OLD.period_key, OLD.community_id, OLD.pool_fen, OLD.total_fen, OLD.rule, OLD.basis,
                    OLD.approved_at, OLD.approved_by, OLD.computed_at))) THEN
            RAISE EXCEPTION 'settlement statement % is % and cannot change', OLD.id, OLD.status;
        END IF;
    ELSIF EXISTS (SELECT 1 FROM settlement_statement s
                  WHERE s.id = (CASE WHEN TG_OP = 'INSERT' THEN NEW.statement_id ELSE OLD.statement_id END)
                    AND s.status <> 'draft') THEN
        RAISE EXCEPTION 'lines of an approved statement cannot change';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER settlement_statement_frozen BEFORE UPDATE OR DELETE ON settlement_statement
    FOR EACH ROW EXECUTE FUNCTION civicgrid_statement_frozen();
CREATE TRIGGER settlement_line_frozen BEFORE INSERT OR UPDATE OR DELETE ON settlement_line
    FOR EACH ROW EXECUTE FUNCTION civicgrid_statement_frozen();
CREATE UNIQUE INDEX bond_top_up_open ON bond_top_up (tenant_id, contract_id) WHERE settled_at IS NULL;
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0012_money')]

    initial = False

    operations = [
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
        ops.RunSQL(LEDGER, reverse_sql="DROP TRIGGER ledger_posting_balanced ON ledger_posting;"
                   " DROP TRIGGER ledger_posting_balance ON ledger_posting;"
                   " DROP FUNCTION civicgrid_journal_balanced(); DROP FUNCTION civicgrid_ledger_balance();"
                   " ALTER TABLE ledger_balance DROP CONSTRAINT ledger_balance_non_negative;"
                   " ALTER TABLE ledger_posting DROP CONSTRAINT ledger_posting_nonzero;"),
        ops.RunSQL(STATEMENTS, reverse_sql="DROP INDEX bond_top_up_open;"
                   " DROP TRIGGER settlement_line_frozen ON settlement_line;"
                   " DROP TRIGGER settlement_statement_frozen ON settlement_statement;"
                   " DROP FUNCTION civicgrid_statement_frozen();"),
    ]
