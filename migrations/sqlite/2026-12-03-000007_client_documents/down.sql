ALTER TABLE clients DROP COLUMN document_fetched_at;
ALTER TABLE clients DROP COLUMN application_type;
