-- smartlic license manager: how many product instances each virtual account holds, kept by a
-- trigger on every insert, delete and change of VA of a product instance (registration,
-- replacement, removal, expiry, moves, bulk loads), so that a VA's page reads one row instead of
-- counting a million. Keep in step with the other engine's migration of the same number.

CREATE TABLE va_instance_counts (
    va_id TEXT PRIMARY KEY REFERENCES virtual_accounts (id) ON DELETE CASCADE,
    n     BIGINT NOT NULL
);

INSERT INTO va_instance_counts (va_id, n)
    SELECT va_id, COUNT(*) FROM product_instances GROUP BY va_id;

CREATE FUNCTION count_va_instances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR TG_OP = 'UPDATE' THEN
        UPDATE va_instance_counts SET n = n - 1 WHERE va_id = OLD.va_id;
    END IF;
    IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
        INSERT INTO va_instance_counts (va_id, n) VALUES (NEW.va_id, 1)
            ON CONFLICT (va_id) DO UPDATE SET n = va_instance_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER product_instances_count
    AFTER INSERT OR DELETE OR UPDATE OF va_id ON product_instances
    FOR EACH ROW EXECUTE FUNCTION count_va_instances();
