-- The tables Kamailio's sipcapture module writes (Homer's capture schema), in SQLite.
CREATE TABLE sip_capture (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    date TEXT, micro_ts INTEGER, method TEXT, reply_reason TEXT, ruri TEXT, ruri_user TEXT,
    ruri_domain TEXT, from_user TEXT, from_domain TEXT, from_tag TEXT, to_user TEXT,
    to_domain TEXT, to_tag TEXT, pid_user TEXT, contact_user TEXT, auth_user TEXT, callid TEXT,
    callid_aleg TEXT, via_1 TEXT, via_1_branch TEXT, cseq TEXT, diversion TEXT, reason TEXT,
    content_type TEXT, auth TEXT, user_agent TEXT, source_ip TEXT, source_port INTEGER,
    destination_ip TEXT, destination_port INTEGER, contact_ip TEXT, contact_port INTEGER,
    originator_ip TEXT, originator_port INTEGER, expires INTEGER, correlation_id TEXT,
    custom_field1 TEXT, custom_field2 TEXT, custom_field3 TEXT, proto INTEGER, family INTEGER,
    rtp_stat TEXT, type INTEGER, node TEXT, msg TEXT
);
CREATE TABLE logs_capture (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    date TEXT, micro_ts INTEGER, correlation_id TEXT, source_ip TEXT, source_port INTEGER,
    destination_ip TEXT, destination_port INTEGER, proto INTEGER, family INTEGER, type INTEGER,
    node TEXT, msg TEXT
);
-- HEP type 5 (RTCP reports as JSON), written by receive_logging_json_msg like logs_capture.
CREATE TABLE rtcp_capture (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    date TEXT, micro_ts INTEGER, correlation_id TEXT, source_ip TEXT, source_port INTEGER,
    destination_ip TEXT, destination_port INTEGER, proto INTEGER, family INTEGER, type INTEGER,
    node TEXT, msg TEXT
);
