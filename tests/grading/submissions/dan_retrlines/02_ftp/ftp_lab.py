"""FTP lab (Dan). Text transfers with retrlines, the way the chapter's first download did it."""

import ftplib
import os


class DownloadError(Exception):
    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def download(host, port, remote_path, local_path, user="anonymous", password="", timeout=10.0):
    ftp = ftplib.FTP()
    try:
        ftp.connect(host, port, timeout=timeout)
    except OSError as e:
        raise DownloadError("connect", "could not connect to %s:%s (%s)" % (host, port, e))
    try:
        try:
            ftp.login(user, password)
        except ftplib.error_perm as e:
            raise DownloadError("login", str(e))
        folder, name = os.path.split(remote_path)
        if folder:
            try:
                ftp.cwd(folder)
            except ftplib.error_perm as e:
                raise DownloadError("folder", str(e))
        try:
            lines = []
            ftp.retrlines("RETR " + name, lines.append)
        except ftplib.error_perm as e:
            raise DownloadError("file", str(e))
        with open(local_path, "w", encoding="utf-8", newline="\n") as f:
            for line in lines:
                f.write(line + "\n")
        return os.path.getsize(local_path)
    finally:
        ftp.close()


def mirror(host, port, remote_dir, local_dir, user="anonymous", password="", timeout=10.0):
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=timeout)
    ftp.login(user, password)
    done = []

    def copy_dir(remote, local, prefix):
        os.makedirs(local, exist_ok=True)
        for name, facts in ftp.mlsd(remote, facts=["type"]):
            if facts["type"] == "dir":
                copy_dir(remote + "/" + name, os.path.join(local, name), prefix + name + "/")
            elif facts["type"] == "file":
                with open(os.path.join(local, name), "w", encoding="utf-8", newline="\n") as f:
                    ftp.retrlines("RETR " + remote + "/" + name, lambda line: f.write(line + "\n"))
                done.append(prefix + name)

    try:
        copy_dir(remote_dir, local_dir, "")
    finally:
        ftp.close()
    return sorted(done)


def resume_download(host, port, remote_path, local_path, user="anonymous", password="", timeout=10.0):
    offset = os.path.getsize(local_path) if os.path.exists(local_path) else 0
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=timeout)
    ftp.login(user, password)
    try:
        ftp.voidcmd("TYPE I")
        total = ftp.size(remote_path)
        if offset >= total:
            return 0
        got = [0]
        with open(local_path, "ab") as f:
            def keep(block):
                f.write(block)
                got[0] += len(block)
            ftp.retrbinary("RETR " + remote_path, keep, rest=offset)
        return got[0]
    finally:
        ftp.close()


def upload(host, port, local_path, remote_path, user, password, timeout=10.0):
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=timeout)
    ftp.login(user, password)
    try:
        with open(local_path, "rb") as f:
            ftp.storbinary("STOR " + remote_path, f)
        ftp.voidcmd("TYPE I")
        size = ftp.size(remote_path)
    finally:
        ftp.close()
    if size != os.path.getsize(local_path):
        raise IOError("size mismatch")
    return size
