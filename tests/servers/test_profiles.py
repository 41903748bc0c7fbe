"""Provider profiles: each provider's login rules and replies, met with smtplib, imaplib, poplib and urllib.

The replies checked here are the providers' own words (docs/providers.md has the sources); a test fails
if the servers answer with the course's words instead, or accept what the provider would refuse.
"""

from __future__ import annotations

import base64
import email
import email.policy
import imaplib
import json
import os
import poplib
import re
import smtplib
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest

from local_servers import control
from local_servers.wire import oauth, profiles

MAIL = ["smtp", "pop3", "imap", "http"]


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """Start servers for a profile once per module and profile (switching restarts them)."""
    handles: dict[str | None, object] = {}

    def start(name: str | None):
        if name not in handles:
            state_dir = tmp_path_factory.mktemp(f"profile-{name}")
            if name is not None:
                profiles.select(state_dir, name)  # before the first start: seeded with the profile
            handles[name] = control.start(state_dir, ephemeral=True, names=MAIL)
        return handles[name]

    yield start
    for handle in handles.values():
        control.stop(handle.state_dir)


@pytest.fixture(scope="module")
def gmail(started):
    return started("gmail")


@pytest.fixture(scope="module")
def qq(started):
    return started("qq")


@pytest.fixture(scope="module")
def netease(started):
    return started("163")


@pytest.fixture(scope="module")
def outlook(started):
    return started("outlook")


def smtps(handle) -> smtplib.SMTP_SSL:
    """SMTP over implicit TLS: the course's smtps listener plays the provider's port 465."""
    return smtplib.SMTP_SSL(handle.smtp.host, handle.smtp.tls_ports["smtps"], context=handle.ssl_context(),
                            timeout=10)


def imaps(handle) -> imaplib.IMAP4_SSL:
    return imaplib.IMAP4_SSL(handle.imap.host, handle.imap.tls_ports["imaps"], ssl_context=handle.ssl_context(),
                             timeout=10)


def pop3s(handle) -> poplib.POP3_SSL:
    return poplib.POP3_SSL(handle.pop3.host, handle.pop3.tls_ports["pop3s"], context=handle.ssl_context(),
                           timeout=10)


def access_token(handle, user: str = "alice") -> dict:
    """The OAuth2 refresh-token grant (RFC 6749 6) against the course's token endpoint, with urllib."""
    client = handle.oauth_client(user)
    form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": client["refresh_token"],
                                   "client_id": client["client_id"], "client_secret": client["client_secret"]})
    with urllib.request.urlopen(client["token_url"], data=form.encode(), timeout=10) as reply:
        assert reply.headers["Content-Type"].startswith("application/json")
        return json.load(reply)


def xoauth2(user: str, token: str) -> str:
    """The XOAUTH2 initial client response, before base64 (the libraries encode it)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def mutf7_decode(name: str) -> str:
    """Modified UTF-7 (RFC 3501 5.1.3) to text: "&XfJT0ZAB-" -> "已发送"."""
    def decode(match):
        chunk = match.group(1)
        if not chunk:
            return "&"
        data = chunk.replace(",", "/")
        return base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-16-be")
    return re.sub(r"&([^-]*)-", decode, name)


def listing(client: imaplib.IMAP4) -> dict[str, set[str]]:
    """LIST "" "*" as {mailbox name: attributes}."""
    typ, data = client.list()
    assert typ == "OK", data
    found = {}
    for line in data:
        match = re.match(rb'\((.*?)\) "." (.*)', line)
        name = match.group(2).decode()
        found[name[1:-1] if name.startswith('"') else name] = set(match.group(1).decode().split())
    return found


def subjects(client: imaplib.IMAP4) -> list[str]:
    typ, data = client.fetch("1:*", "(BODY.PEEK[])")
    assert typ == "OK", data
    return [email.message_from_bytes(item[1], policy=email.policy.default) for item in data if isinstance(item, tuple)]


# --------------------------------------------------------------------------
# Gmail: app passwords, XOAUTH2, [Gmail]/ folders
# --------------------------------------------------------------------------

def test_gmail_smtp_refuses_the_account_password_with_534_and_wrong_ones_with_535(gmail):
    with smtps(gmail) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("alice@example.test", "alice-pw")
    assert refused.value.smtp_code == 534
    assert b"5.7.9 Application-specific password required" in refused.value.smtp_error
    with smtps(gmail) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            client.login("alice@example.test", "not-her-password")
    assert failed.value.smtp_code == 535
    assert b"5.7.8 Username and Password not accepted" in failed.value.smtp_error


def test_a_provider_wants_a_login_before_mail(gmail):
    with smtps(gmail) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("alice@example.test", ["bob@example.test"], b"Subject: no login\r\n\r\nhi\r\n")
    assert refused.value.smtp_code == 530


def test_gmail_app_password_logs_in_on_smtp_imap_and_pop3(gmail):
    password = gmail.app_password("alice")
    assert re.fullmatch(r"[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}", password)
    with smtps(gmail) as client:
        assert client.login("alice@example.test", password.replace(" ", ""))[0] == 235
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "alice@example.test", "bob@example.test", "app pw"
        message.set_content("sent with an app password\n")
        assert client.send_message(message) == {}
    client = imaps(gmail)
    assert client.login("alice", password)[0] == "OK"
    client.logout()
    pop = pop3s(gmail)
    pop.user("alice")
    assert pop.pass_(password).startswith(b"+OK")
    pop.quit()
    mode = stat.S_IMODE(os.stat(Path(gmail.state_dir) / "wire" / "app-passwords.json").st_mode)
    assert mode == 0o600
    assert password.replace(" ", "") not in (Path(gmail.state_dir) / "wire" / "app-passwords.json").read_text()


def test_gmail_imap_and_pop3_refuse_the_account_password_in_gmails_words(gmail):
    client = imaps(gmail)
    with pytest.raises(imaplib.IMAP4.error, match=r"\[ALERT\] Application-specific password required"):
        client.login("alice", "alice-pw")
    with pytest.raises(imaplib.IMAP4.error, match=r"\[AUTHENTICATIONFAILED\] Invalid credentials \(Failure\)"):
        client.login("alice", "wrong")
    client.logout()
    pop = pop3s(gmail)
    pop.user("alice")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] Application-specific password required"):
        pop.pass_("alice-pw")
    pop.quit()


def test_gmail_wants_tls_before_any_password(gmail):
    client = imaplib.IMAP4(gmail.imap.host, gmail.imap.port, timeout=10)
    assert "LOGINDISABLED" in client.capabilities and "STARTTLS" in client.capabilities
    typ, data = client._simple_command("LOGIN", "alice", '"x"')
    assert typ == "NO" and b"[PRIVACYREQUIRED]" in data[0]
    client.starttls(ssl_context=gmail.ssl_context())
    assert "AUTH=XOAUTH2" in client.capabilities
    client.logout()
    pop = poplib.POP3(gmail.pop3.host, gmail.pop3.port, timeout=10)
    with pytest.raises(poplib.error_proto, match="STLS"):
        pop.user("alice")
    pop.quit()


def test_gmail_folders_have_gmails_names_and_special_use_attributes(gmail):
    client = imaps(gmail)
    client.login("alice", gmail.app_password("alice"))
    found = listing(client)
    assert "\\Sent" in found["[Gmail]/Sent Mail"] and "\\All" in found["[Gmail]/All Mail"]
    assert "\\Junk" in found["[Gmail]/Spam"] and "\\Drafts" in found["[Gmail]/Drafts"]
    assert "Sent" not in found  # the course's Sent folder became [Gmail]/Sent Mail
    typ, data = client.select('"[Gmail]/Sent Mail"', readonly=True)
    assert typ == "OK" and int(data[0]) >= 1  # alice's seeded answer to bob
    client.logout()


def test_token_endpoint_gives_an_access_token_for_a_refresh_token(gmail):
    reply = access_token(gmail)
    assert reply["token_type"] == "Bearer" and 3000 < reply["expires_in"] <= 3600
    assert oauth.check_access_token(gmail.state_dir, reply["access_token"], "alice@example.test") == "ok"
    client = gmail.oauth_client("alice")
    for form, status, error in (
            ({**client, "refresh_token": "1//forged"}, 400, "invalid_grant"),
            ({**client, "client_secret": "guess"}, 401, "invalid_client"),
            ({**client, "grant_type": "password"}, 400, "unsupported_grant_type")):
        form.setdefault("grant_type", "refresh_token")
        body = urllib.parse.urlencode({k: v for k, v in form.items() if k != "token_url"}).encode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(client["token_url"], data=body, timeout=10)
        assert refused.value.code == status
        assert json.load(refused.value)["error"] == error


def test_gmail_imap_xoauth2_with_imaplib_authenticate(gmail):
    token = access_token(gmail)["access_token"]
    client = imaps(gmail)
    typ, data = client.authenticate("XOAUTH2", lambda challenge: xoauth2("alice@example.test", token))
    assert typ == "OK", data
    assert client.select("INBOX", readonly=True)[0] == "OK"
    client.logout()


def test_gmail_smtp_xoauth2_with_smtplib_auth(gmail):
    token = access_token(gmail, "bob")["access_token"]
    with smtps(gmail) as client:
        client.ehlo()
        assert "XOAUTH2" in client.esmtp_features["auth"].split()
        code, _ = client.auth("XOAUTH2", lambda challenge=None: xoauth2("bob@example.test", token))
        assert code == 235
        assert client.sendmail("bob@example.test", ["alice@example.test"], b"Subject: oauth\r\n\r\nhi\r\n") == {}


def test_gmail_expired_token_gets_the_json_challenge_then_the_failure(gmail):
    expired = oauth.access_token(gmail.state_dir, "alice", lifetime=-10)
    challenges = []

    def respond(challenge=None):
        challenges.append(challenge)
        return xoauth2("alice@example.test", expired)

    client = imaps(gmail)
    with pytest.raises(imaplib.IMAP4.error, match=r"\[AUTHENTICATIONFAILED\]"):
        client.authenticate("XOAUTH2", respond)
    client.logout()
    assert json.loads(challenges[-1])["status"] == "401"
    challenges.clear()
    with smtps(gmail) as smtp:
        smtp.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.auth("XOAUTH2", respond)
    assert refused.value.smtp_code == 535
    assert json.loads(challenges[-1])["schemes"] == "bearer"
    # a token for another account is no better
    other = access_token(gmail, "bob")["access_token"]
    client = imaps(gmail)
    with pytest.raises(imaplib.IMAP4.error):
        client.authenticate("XOAUTH2", lambda challenge: xoauth2("alice@example.test", other))
    client.logout()


# --------------------------------------------------------------------------
# Outlook: no basic authentication at all, OAuth2 only
# --------------------------------------------------------------------------

def test_outlook_refuses_every_password_even_an_app_password(outlook):
    app_password = outlook.app_password("alice")
    for password in ("alice-pw", app_password):
        with smtps(outlook) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.login("alice@example.test", password)
        assert refused.value.smtp_code == 535
        assert b"5.7.139 Authentication unsuccessful, basic authentication is disabled" in refused.value.smtp_error
        client = imaps(outlook)
        with pytest.raises(imaplib.IMAP4.error, match="LOGIN failed"):
            client.login("alice", password)
        client.logout()


def test_outlook_accepts_xoauth2_and_oauthbearer(outlook):
    token = access_token(outlook)["access_token"]
    client = imaps(outlook)
    assert client.authenticate("XOAUTH2", lambda c: xoauth2("alice@example.test", token))[0] == "OK"
    client.logout()
    client = imaps(outlook)
    bearer = f"n,a=alice@example.test,\x01host=localhost\x01port=993\x01auth=Bearer {token}\x01\x01"
    assert client.authenticate("OAUTHBEARER", lambda c: bearer)[0] == "OK"
    client.logout()
    with smtps(outlook) as smtp:
        smtp.ehlo()
        assert smtp.auth("XOAUTH2", lambda c=None: xoauth2("alice@example.test", token))[0] == 235
    with smtps(outlook) as smtp:
        smtp.ehlo()
        assert smtp.auth("OAUTHBEARER", lambda c=None: bearer)[0] == 235
    expired = oauth.access_token(outlook.state_dir, "alice", lifetime=-1)
    client = imaps(outlook)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATE failed"):
        client.authenticate("XOAUTH2", lambda c: xoauth2("alice@example.test", expired))
    client.logout()


# --------------------------------------------------------------------------
# QQ Mail and 163: authorization codes, Chinese folders and mail, 163's ID rule
# --------------------------------------------------------------------------

def test_qq_wants_the_authorization_code(qq):
    with smtps(qq) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("alice@example.test", "alice-pw")
    assert refused.value.smtp_code == 535
    assert b"Please enter your authorization code to login" in refused.value.smtp_error
    code = qq.app_password("alice")
    with smtps(qq) as client:
        assert client.login("alice@example.test", code)[0] == 235
    pop = pop3s(qq)
    pop.user("alice")
    with pytest.raises(poplib.error_proto, match="authorization code"):
        pop.pass_("alice-pw")
    pop.user("alice")
    assert pop.pass_(code).startswith(b"+OK")
    pop.quit()
    client = imaps(qq)
    assert client.login("alice", code)[0] == "OK"
    found = listing(client)
    assert "\\Sent" in found["Sent Messages"] and "\\Trash" in found["Deleted Messages"]
    client.select("INBOX", readonly=True)
    messages = {str(m["Subject"]): m for m in subjects(client)}
    gbk = messages["周五聚餐通知"]  # GBK, RFC 2047 base64 in the header, base64 body
    assert gbk["From"].addresses[0].display_name == "王芳" and gbk.get_content_charset() == "gbk"
    assert "周五晚上七点" in gbk.get_content()
    client.logout()


def test_163_refuses_the_password_then_select_until_the_client_sends_id(netease, monkeypatch):
    # as in a fresh program: xatom registers ID (for the state it is sent in); on a copy of the table, so
    # that registration never leaks into other tests (it did: test_imap_extensions then failed at random)
    monkeypatch.setattr(imaplib, "Commands", {k: v for k, v in imaplib.Commands.items() if k != "ID"})
    with smtps(netease) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("alice@example.test", "alice-pw")
    assert (refused.value.smtp_code, refused.value.smtp_error) == (535, b"Error: authentication failed")
    client = imaps(netease)
    with pytest.raises(imaplib.IMAP4.error, match="Login error or password error"):
        client.login("alice", "alice-pw")
    client.login("alice", netease.app_password("alice"))
    typ, data = client.select("INBOX")
    assert (typ, data) == ("NO", [b"SELECT Unsafe Login. Please contact kefu@188.com for help"])
    typ, data = client.select("INBOX", readonly=True)
    assert typ == "NO" and data[0].startswith(b"EXAMINE Unsafe Login")
    typ, data = client.xatom("ID", '("name" "course-client" "version" "1.0")')
    assert typ == "OK", data
    typ, data = client.select("INBOX")
    assert typ == "OK", data
    found = listing(client)
    decoded = {mutf7_decode(name): attributes for name, attributes in found.items()}
    assert "\\Sent" in decoded["已发送"] and "\\Drafts" in decoded["草稿箱"] and "\\Junk" in decoded["垃圾邮件"]
    messages = {str(m["Subject"]): m for m in subjects(client)}
    gb2312 = messages["课程资料"]  # GB2312 header and an 8-bit GB2312 body
    assert gb2312["From"].addresses[0].display_name == "张伟" and "资料已经上传" in gb2312.get_content()
    client.logout()


def test_163_id_with_simple_command_works_too(netease, monkeypatch):
    client = imaps(netease)
    client.login("bob", netease.app_password("bob"))
    monkeypatch.setitem(imaplib.Commands, "ID", ("NONAUTH", "AUTH", "SELECTED"))  # restored after the test
    typ, data = client._simple_command("ID", '("name" "course-client")')
    assert typ == "OK", data
    assert client.select("INBOX")[0] == "OK"
    client.logout()


# --------------------------------------------------------------------------
# No profile: the course's own rules
# --------------------------------------------------------------------------

def test_without_a_profile_the_course_rules_hold(started):
    course = started(None)
    client = imaplib.IMAP4(course.imap.host, course.imap.port, timeout=10)
    assert "XOAUTH2" not in " ".join(client.capabilities)
    client.login("alice", "alice-pw")
    typ, data = client.select("INBOX")  # no ID needed
    assert typ == "OK"
    names = listing(client)
    assert "Sent" in names and not any(name.startswith("[Gmail]") for name in names)
    assert names["Sent"] == {"\\HasNoChildren"}  # SPECIAL-USE only when asked for (RFC 6154)
    client.logout()
    with smtplib.SMTP(course.smtp.host, course.smtp.port, timeout=10) as smtp:
        smtp.starttls(context=course.ssl_context())
        smtp.ehlo()
        assert "XOAUTH2" not in smtp.esmtp_features["auth"]
        assert smtp.login("alice", "alice-pw")[0] == 235


def test_profile_switch_reseeds_and_off_restores(tmp_path):
    handle = control.start(tmp_path, ephemeral=True, names=["imap", "smtp"])
    try:
        gmail = handle.profile("gmail")
        assert profiles.current(tmp_path) == "gmail" and gmail.imap.port == handle.imap.port
        client = imaps(gmail)
        client.login("alice", gmail.app_password("alice"))
        assert "[Gmail]/Sent Mail" in listing(client)
        client.logout()
        course = gmail.profile(None)
        assert profiles.current(tmp_path) is None
        client = imaplib.IMAP4(course.imap.host, course.imap.port, timeout=10)
        client.login("alice", "alice-pw")
        assert "Sent" in listing(client) and "[Gmail]/Sent Mail" not in listing(client)
        client.logout()
    finally:
        control.stop(tmp_path)


def test_cli_switches_profiles_and_issues_credentials(tmp_path):
    env = {**os.environ, "LOCAL_SERVERS_HOME": str(tmp_path)}

    def run(*words):
        return subprocess.run([sys.executable, "-m", "local_servers", "profile", *words], env=env,
                              capture_output=True, text=True, timeout=60)

    done = run("qq")
    assert done.returncode == 0, done.stderr
    assert "reseeded" in done.stdout and "when the servers start" in done.stdout
    assert profiles.current(tmp_path) == "qq"
    status = subprocess.run([sys.executable, "-m", "local_servers", "status"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert "provider profile on: qq" in status.stdout
    code = run("app-password", "carol")
    assert code.returncode == 0 and profiles.is_app_password(tmp_path, "carol", code.stdout.strip())
    token = run("refresh-token", "carol").stdout.strip()
    assert oauth.token_endpoint(tmp_path, urllib.parse.urlencode({
        "grant_type": "refresh_token", "refresh_token": token, "client_id": oauth.CLIENT_ID,
        "client_secret": oauth.CLIENT_SECRET}).encode())[0] == 200
    assert run("yahoo").returncode == 2 and run("app-password", "mallory").returncode == 2
    assert run("--off").returncode == 0 and profiles.current(tmp_path) is None
    status = subprocess.run([sys.executable, "-m", "local_servers", "status"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert "provider profile" not in status.stdout


def test_sasl_parsing_rejects_what_is_not_a_bearer_token():
    assert oauth.parse_sasl("XOAUTH2", b"user=a\x01auth=Bearer t\x01\x01") == ("a", "t")
    for bad in (b"", b"user=a\x01\x01", b"user=a\x01auth=Basic t\x01\x01", b"\xff\xfe", b"auth=Bearer t\x01\x01"):
        assert oauth.parse_sasl("XOAUTH2", bad) is None, bad
    assert oauth.parse_sasl("OAUTHBEARER", b"user=a\x01auth=Bearer t\x01\x01") is None  # no GS2 header
