"""The mail store as a provider's mailbox looks: its folder names and the mail its users get.

Runs after mailstore.seed, in the server process, when the mail store is
(re)seeded with a profile on. For every account:

- the course's "Sent" folder becomes the provider's sent folder (Gmail
  "[Gmail]/Sent Mail", QQ "Sent Messages", 163 已发送, which travels as
  "&XfJT0ZAB-" in modified UTF-7, RFC 3501 5.1.3), and the provider's other
  folders (drafts, junk, trash...) exist, empty;
- for the Chinese providers, the INBOX gets mail as Chinese mail programs
  write it: GBK and GB2312 bodies and RFC 2047 encoded-word headers with
  Chinese senders and subjects.
"""

from __future__ import annotations

import base64
import datetime
import shutil
from email.utils import format_datetime
from pathlib import Path

from ..mail import mailstore
from .profiles import Profile

_ZONE = datetime.timezone(datetime.timedelta(hours=8))  # China Standard Time


def _words(text: str, charset: str) -> str:
    """An RFC 2047 encoded word, as Chinese mail programs write them (B encoding)."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode('ascii')}?="


def chinese_mail(user: str, profile: Profile) -> list[tuple[datetime.datetime, bytes]]:
    """Two messages for a QQ or 163 inbox: one GBK in base64, one GB2312 in 8 bits (raw bytes, LF endings)."""
    start = datetime.datetime(2026, 5, 6, 9, 30, tzinfo=_ZONE)
    domain = "qq.com" if profile.name == "qq" else "163.com"
    to = f"{user}@example.test"
    first = ("From: " + _words("王芳", "gbk") + f" <wangfang@{domain}>\n"
             f"To: {to}\n"
             "Subject: " + _words("周五聚餐通知", "gbk") + "\n"
             f"Date: {format_datetime(start)}\n"
             f"Message-ID: <profile-{profile.name}-1-{user}@{domain}>\n"
             "MIME-Version: 1.0\n"
             'Content-Type: text/plain; charset="gbk"\nContent-Transfer-Encoding: base64\n\n'
             ).encode("ascii") + base64.encodebytes("大家好：\n\n周五晚上七点在学校门口集合。\n\n王芳\n".encode("gbk"))
    second = ("From: " + _words("张伟", "gb2312") + f" <zhangwei@{domain}>\n"
              f"To: {to}\n"
              "Subject: " + _words("课程资料", "gb2312") + "\n"
              f"Date: {format_datetime(start + datetime.timedelta(hours=2))}\n"
              f"Message-ID: <profile-{profile.name}-2-{user}@{domain}>\n"
              "MIME-Version: 1.0\n"
              'Content-Type: text/plain; charset="gb2312"\nContent-Transfer-Encoding: 8bit\n\n'
              ).encode("ascii") + "资料已经上传到课程网站。\n".encode("gb2312")
    return [(start, first), (start + datetime.timedelta(hours=2), second)]


def seed(mail_dir: Path, profile: Profile) -> None:
    """Give every account the profile's folders (the course's Sent renamed) and its extra mail."""
    sent = next(name for name, use in profile.folders.items() if use == "\\Sent")
    for user in mailstore.USERS:
        course_sent = mailstore.user_dir(mail_dir, user, "Sent")
        target = mailstore.user_dir(mail_dir, user, sent)
        if course_sent != target and course_sent.is_dir():
            if target.is_dir():  # 163: alice's 已发送 exists already; move the messages in
                for sub in ("new", "cur"):
                    for item in (course_sent / sub).iterdir():
                        item.rename(target / sub / item.name)
                shutil.rmtree(course_sent)
            else:
                course_sent.rename(target)
        for name in profile.folders:
            mailstore.open_box(mail_dir, user, name, create=True)  # makes cur/ new/ tmp/ if missing
        if profile.name in ("qq", "163"):
            for i, (date, data) in enumerate(chinese_mail(user, profile)):
                when = date.timestamp() + 60
                mailstore.deliver(mail_dir, user, data, when=when, key=f"{int(when)}.P{i:04d}.{profile.name}")
