-- smartlic license manager: PostgreSQL's migration of this number leaves room on the pages of
-- product_instances for the renewals' row updates (fillfactor). SQLite has no such setting; this
-- migration keeps the two engines' numbers in step and changes nothing.

SELECT 1;
