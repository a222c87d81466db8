-- smartlic license manager: how many product instances each virtual account holds, kept by
-- triggers on every insert, delete and change of VA of a product instance (registration,
-- replacement, removal, expiry, moves, bulk loads), so that a VA's page reads one row instead of
-- counting a million. Keep in step with the other engine's migration of the same number.

CREATE TABLE va_instance_counts (
    va_id TEXT PRIMARY KEY REFERENCES virtual_accounts (id) ON DELETE CASCADE,
    n     BIGINT NOT NULL
);

INSERT INTO va_instance_counts (va_id, n)
    SELECT va_id, COUNT(*) FROM product_instances WHERE true GROUP BY va_id;

CREATE TRIGGER product_instances_count_insert AFTER INSERT ON product_instances
BEGIN
    INSERT INTO va_instance_counts (va_id, n) VALUES (NEW.va_id, 1)
        ON CONFLICT (va_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER product_instances_count_delete AFTER DELETE ON product_instances
BEGIN
    UPDATE va_instance_counts SET n = n - 1 WHERE va_id = OLD.va_id;
END;

CREATE TRIGGER product_instances_count_move AFTER UPDATE OF va_id ON product_instances
BEGIN
    UPDATE va_instance_counts SET n = n - 1 WHERE va_id = OLD.va_id;
    INSERT INTO va_instance_counts (va_id, n) VALUES (NEW.va_id, 1)
        ON CONFLICT (va_id) DO UPDATE SET n = n + 1;
END;
