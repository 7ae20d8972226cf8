-- The API keeps the active API-key hashes in memory; a change of api_keys tells it to reload them,
-- so a revoked key stops working at once in every running API process.
CREATE FUNCTION notify_api_keys_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('api_keys_changed', '');
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION notify_api_keys_changed() IS
    'Sends NOTIFY api_keys_changed after any change of api_keys (API processes reload their key cache).';

CREATE TRIGGER api_keys_changed
    AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_api_keys_changed();
COMMENT ON TRIGGER api_keys_changed ON api_keys IS
    'Tells running API processes to reload the active API keys (create, revoke).';
