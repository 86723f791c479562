from tortoise import migrations
from tortoise.migrations import operations as ops

TABLES = (
    "assessment_round", "score_submission", "supervisor_finding", "rating_snapshot", "compound_rating",
    "company_rating", "interview",
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

# A published snapshot never changes: the database refuses updates of a published row, and any insert, update
# or delete of its ratings.
FROZEN = """
CREATE FUNCTION civicgrid_refuse_published() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'rating_snapshot' THEN
        IF OLD.status = 'published' THEN
            RAISE EXCEPTION 'rating snapshot % is published and cannot change', OLD.id;
        END IF;
    ELSIF EXISTS (SELECT 1 FROM rating_snapshot s
                  WHERE s.id = (CASE WHEN TG_OP = 'INSERT' THEN NEW.snapshot_id ELSE OLD.snapshot_id END)
                    AND s.status = 'published') THEN
        RAISE EXCEPTION 'ratings of a published snapshot cannot change';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER rating_snapshot_frozen BEFORE UPDATE OR DELETE ON rating_snapshot
    FOR EACH ROW EXECUTE FUNCTION civicgrid_refuse_published();
CREATE TRIGGER compound_rating_frozen BEFORE INSERT OR UPDATE OR DELETE ON compound_rating
    FOR EACH ROW EXECUTE FUNCTION civicgrid_refuse_published();
CREATE TRIGGER company_rating_frozen BEFORE INSERT OR UPDATE OR DELETE ON company_rating
    FOR EACH ROW EXECUTE FUNCTION civicgrid_refuse_published();
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0010_assessment')]

    initial = False

    operations = [
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
        ops.RunSQL(FROZEN, reverse_sql="DROP TRIGGER rating_snapshot_frozen ON rating_snapshot;"
                   " DROP TRIGGER compound_rating_frozen ON compound_rating;"
                   " DROP TRIGGER company_rating_frozen ON company_rating;"
                   " DROP FUNCTION civicgrid_refuse_published();"),
    ]
