/**
 * Defence in depth for processes that talk to the emulator: even if some code path reached for
 * Application Default Credentials, the metadata-server probe would stay on loopback (port 9,
 * discard) instead of leaving the machine. Imported for its effect on `process.env`.
 */
process.env.GCE_METADATA_HOST = "127.0.0.1:9";
process.env.GCE_METADATA_IP = "127.0.0.1:9";
process.env.METADATA_SERVER_DETECTION = "none";
delete process.env.GOOGLE_APPLICATION_CREDENTIALS;

export {};
