-- smartlic license manager: room on each page of product_instances for new versions of its rows.
-- Every authorization renewal stamps its instance (last contact, last authorization; no index
-- holds either column). With full pages (the default fillfactor of 100, and any table filled in
-- bulk) the new version goes to another page, and every index of the table gets a new entry for
-- it; with free room on the page it is a heap-only update that touches no index. Applies to pages
-- written from now on (existing pages are not rewritten: no table lock on upgrade).
-- SQLite has no such setting: its migration of the same number does nothing.

ALTER TABLE product_instances SET (fillfactor = 85);
