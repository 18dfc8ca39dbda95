ALTER TABLE clients DROP COLUMN id_jag_audiences;
ALTER TABLE clients DROP COLUMN token_exchange_audiences;
DROP TABLE linked_identities;
