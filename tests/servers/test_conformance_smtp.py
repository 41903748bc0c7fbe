"""SMTP driven by swaks and `openssl s_client`: plain, STARTTLS with AUTH, implicit TLS.

swaks is the SMTP test tool of mail administrators; `openssl s_client` is
what people type to look at a TLS service by hand. smtplib and curl are
covered in test_smtp.py. Without a tool, its tests are skipped (CI installs
them: apt-get install swaks openssl).

swaks 20201014 cannot ask for SMTPUTF8, so that extension is tested with
smtplib only (test_smtp.py).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from mailtest import MAIL_SERVICES, inbox_files, parse

needs_swaks = pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed (apt-get install swaks)")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


@pytest.fixture(scope="module")
def mail(tmp_path_factory):
    from local_servers import control

    state_dir = tmp_path_factory.mktemp("swaks-servers")
    yield control.start(state_dir, ephemeral=True, names=MAIL_SERVICES)
    control.stop(state_dir)


def swaks(mail, subject: str, *options: str) -> str:
    result = subprocess.run(
        ["swaks", "--server", mail.smtp.host, "--from", "bob@example.test", "--to", "alice@example.test",
         "--header", f"Subject: {subject}", "--body", "Sent by swaks.", "--timeout", "20", *options],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"swaks failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def stored(mail, subject: str):
    """alice's newest message, which must be the one with `subject`."""
    message = parse(inbox_files(mail, "alice")[-1].read_bytes())
    assert message["Subject"] == subject
    return message


def tls_options(mail) -> list[str]:
    return ["--tls-verify", "--tls-ca-path", mail.smtp.ca_file]


@needs_swaks
def test_swaks_plain(mail):
    swaks(mail, "swaks plain", "--port", str(mail.smtp.port))
    assert stored(mail, "swaks plain")["Received"].split(" with ")[1].split()[0] == "ESMTP"


@needs_swaks
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_swaks_starttls_and_auth(mail, mechanism):
    transcript = swaks(mail, f"swaks starttls {mechanism}", "--port", str(mail.smtp.port), "--tls", *tls_options(mail),
                       "--auth", mechanism, "--auth-user", "bob", "--auth-password", "bob-pw")
    assert "235 " in transcript  # authenticated
    assert "with ESMTPSA" in stored(mail, f"swaks starttls {mechanism}")["Received"]


@needs_swaks
def test_swaks_implicit_tls(mail):
    swaks(mail, "swaks smtps", "--port", str(mail.smtp.tls_ports["smtps"]), "--tls-on-connect", *tls_options(mail),
          "--auth", "PLAIN", "--auth-user", "bob@example.test", "--auth-password", "bob-pw")
    assert "with ESMTPSA" in stored(mail, "swaks smtps")["Received"]


@needs_swaks
def test_swaks_wrong_password_fails(mail):
    result = subprocess.run(["swaks", "--server", mail.smtp.host, "--port", str(mail.smtp.port), "--tls",
                             *tls_options(mail), "--auth", "PLAIN", "--auth-user", "bob", "--auth-password", "nope",
                             "--to", "alice@example.test", "--timeout", "20"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "535" in result.stdout


PIPELINED = ("MAIL FROM:<bob@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
             "Subject: {subject}\r\n\r\nTyped into openssl s_client.\r\n.\r\nQUIT\r\n")


def s_client(*args: str, stdin: str) -> str:
    result = subprocess.run(["openssl", "s_client", *args, "-verify_return_error", "-quiet", "-ign_eof"],
                            input=stdin, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"s_client failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@needs_openssl
def test_openssl_s_client_starttls_pipelined(mail):
    """s_client sends its own EHLO and STARTTLS; the rest arrives in one piece."""
    output = s_client("-starttls", "smtp", "-connect", f"{mail.smtp.host}:{mail.smtp.port}",
                      "-CAfile", mail.smtp.ca_file, "-servername", "localhost",
                      stdin="EHLO s-client.example\r\n" + PIPELINED.format(subject="s_client starttls"))
    assert [line[:3] for line in output.splitlines() if line[3:4] == " "][-5:] == ["250", "250", "354", "250", "221"]
    assert "with ESMTPS" in stored(mail, "s_client starttls")["Received"]


@needs_openssl
def test_openssl_s_client_implicit_tls_pipelined(mail):
    output = s_client("-connect", f"{mail.smtp.host}:{mail.smtp.tls_ports['smtps']}", "-CAfile", mail.smtp.ca_file,
                      "-servername", "localhost",
                      stdin="EHLO s-client.example\r\n" + PIPELINED.format(subject="s_client smtps"))
    assert output.startswith("220 ")
    assert [line[:3] for line in output.splitlines() if line[3:4] == " "][-5:] == ["250", "250", "354", "250", "221"]
    assert "with ESMTPS" in stored(mail, "s_client smtps")["Received"]
