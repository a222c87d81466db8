-- The HA UDI list of a distributed product (VPC-DI), as registered: JSON, '' for none.
ALTER TABLE product_instances ADD COLUMN ha_udis TEXT NOT NULL DEFAULT '';
