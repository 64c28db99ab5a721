-- Console sessions that were signed out before they expired (src/console/session.rs). A
-- session cookie is signed and carries its expiry; signing out records its nonce here so
-- that a copy of the cookie stops working at once. A row is useless after the session's own
-- expiry and is deleted then.
create table console_sign_outs (
    nonce      text        primary key,
    expires_at timestamptz not null
);
