"""The Chinese of every check's hint, keyed by its English text (the hint= of the tests' points markers).

Keyed by the English, so a hint whose English changes is shown in English until its Chinese is written again
(never a translation of an older hint); tests/grading/test_i18n.py fails while one is missing. Terms as in
docs/glossary.zh-CN.md. The sections a hint points to are written here with their English titles, exactly
as the English hint names them (第 2 章“Anonymous and named logins”一节): hint() shows the Chinese edition's
heading in their place, read from notebooks/zh/ (grader/sections.py), so a retitled Chinese heading needs no
edit here. tests/grading/test_hint_sections.py checks that each names a heading of both editions.
"""

HINTS_ZH: dict[str, str] = {
    # tests/exercises/checks/test_ex01.py
    "One connection: sendall each line with its '\\n', and read each reply up to its '\\n' (makefile('rb').readline()) (chapter 1a, 'Delimiters: makefile() and readline()').":
        "全程只用一个连接：用 sendall 发出每一行（连同行尾的 '\\n'），每条响应都读到它的 '\\n' 为止（makefile('rb').readline()）（见第 1a 章“Delimiters: makefile() and readline()”一节）。",
    "A reply may arrive a byte at a time: read whole lines, then decode them, never one recv() per reply (chapter 1a, 'TCP is a byte stream, not a series of messages' and 'Text across pieces: incremental decoding').":
        '响应可能一次只到一个字节：先读出完整的行再解码，不要以为一次 recv() 就是一条响应（见第 1a 章“TCP is a byte stream, not a series of messages”和“Text across pieces: incremental decoding”两节）。',
    "settimeout, then sendto and recvfrom in a loop: a TimeoutError means send again; after the last try, raise TimeoutError (chapter 1a, 'UDP: datagrams, no connection').":
        '先 settimeout，再在循环里 sendto 和 recvfrom：遇到 TimeoutError 就重发；最后一次仍然超时，就抛出 TimeoutError（见第 1a 章“UDP: datagrams, no connection”一节）。',
    "connect_ex returns 0 when the connection is accepted; catch OSError for the rest (chapter 1a, 'The errors a client meets').":
        '连接被接受时 connect_ex 返回 0；其余情况捕获 OSError（见第 1a 章“The errors a client meets”一节）。',
    "A 4-byte length struct.pack('!I', len(payload)) before the bytes; read exactly 4 bytes, then exactly that many, looping on recv until they are all there (chapter 1a, 'Length prefixes: recv_into() and an exact read').":
        "在数据前面加上 4 字节的长度 struct.pack('!I', len(payload))；接收时先恰好读 4 个字节，再恰好读这么多字节，循环调用 recv 直到读齐（见第 1a 章“Length prefixes: recv_into() and an exact read”一节）。",
    "Check the length against max_size before reading the message, and raise EOFError when recv returns b'' too early (chapter 1a, 'Length prefixes: recv_into() and an exact read').":
        "读消息之前先拿长度和 max_size 比较；recv 过早返回 b'' 时抛出 EOFError（见第 1a 章“Length prefixes: recv_into() and an exact read”一节）。",
    "sendall, then shutdown(SHUT_WR) so the server sees the end, then recv until b'' (chapter 1a, 'Half-close: shutdown').":
        "先 sendall，再 shutdown(SHUT_WR) 让服务器知道数据已经发完，然后一直 recv 到 b''（见第 1a 章“Half-close: shutdown”一节）。",
    "Stop before sending a line that says bye (any case); read each answer up to its '\\n' as UTF-8 (chapter 1b, 'The classic chat: an input() loop, without blocking the notebook').":
        "遇到内容为 bye 的一行（不分大小写）就停下，不再发送；每条回答读到它的 '\\n' 为止，按 UTF-8 解码（见第 1b 章“The classic chat: an input() loop, without blocking the notebook”一节）。",
    "getaddrinfo(host, port, type=SOCK_STREAM), keep (family name, (address, port)) in its order without repeats (chapter 1b, 'getaddrinfo: every address to try').":
        '调用 getaddrinfo(host, port, type=SOCK_STREAM)，按原有顺序保留（地址族名称，(地址, 端口)），去掉重复项（见第 1b 章“getaddrinfo: every address to try”一节）。',
    "One selector: register the listener, accept into non-blocking sockets, keep each client's unfinished line until its '\\n' (chapter 1b, 'Many clients in one thread: selectors').":
        "只用一个选择器：注册监听套接字，把接受的连接设为非阻塞，每个客户端尚未收完的行先存着，直到收到它的 '\\n'（见第 1b 章“Many clients in one thread: selectors”一节）。",
    "What send() cannot take now waits in that client's buffer: watch for EVENT_WRITE while it is not empty, and keep serving the others (chapter 1b, 'Many clients in one thread: selectors').":
        'send() 一时发不出去的数据留在该客户端的缓冲区里：缓冲区不空时关注 EVENT_WRITE，同时继续为其他客户端服务（见第 1b 章“Many clients in one thread: selectors”一节）。',
    # tests/exercises/checks/test_ex02.py
    "Walk the tree: list each folder (mlsd tells files from folders), go into each folder, retrbinary each file into the same place locally (chapter 2, 'Downloading every file of a folder').":
        '遍历整棵目录树：列出每个目录（mlsd 能区分文件和目录），进入每个子目录，用 retrbinary 把每个文件下载到本地的对应位置（见第 2 章“Downloading every file of a folder”一节）。',
    "Open the local file for appending and ask the server to start at its size, as the exercise says (REST; chapter 2, 'Downloading: retrlines, retrbinary, and callbacks').":
        '以追加方式打开本地文件，并按练习的要求让服务器从该文件的大小处开始传输（REST；见第 2 章“Downloading: retrlines, retrbinary, and callbacks”一节）。',
    "No local file means an offset of 0: fetch it all (chapter 2, 'Downloading: retrlines, retrbinary, and callbacks').":
        '本地没有这个文件，偏移量就是 0：整个文件都要下载（见第 2 章“Downloading: retrlines, retrbinary, and callbacks”一节）。',
    "mkd each folder (a 550 for one that exists is fine), storbinary each file (chapter 2, 'Uploading: storbinary and storlines' and 'Managing files and folders: rename, delete, mkd, rmd').":
        '用 mkd 创建每个目录（已存在的目录得到 550 响应，可以忽略），用 storbinary 上传每个文件（见第 2 章“Uploading: storbinary and storlines”和“Managing files and folders: rename, delete, mkd, rmd”两节）。',
    "Anonymous users may not write: let the server's 550 reach the caller as ftplib.error_perm (chapter 2, 'Anonymous and named logins').":
        '匿名用户不能写入：让服务器的 550 以 ftplib.error_perm 的形式传给调用者（见第 2 章“Anonymous and named logins”一节）。',
    "ftplib decodes the control connection from the greeting on: give the encoding when you make the FTP object (chapter 2, 'File names in GBK: FTP(encoding=...)').":
        'ftplib 从欢迎信息起就按指定编码解码控制连接：在创建 FTP 对象时给出编码（见第 2 章“File names in GBK: FTP(encoding=...)”一节）。',
    # tests/exercises/checks/test_ex03.py
    "over((first, last)) gives every article's message-id and references; the LAST reference is the parent; walk the threads depth first, children in number order, and decode_header each subject (chapter 3, 'Threads: the References header' and 'Decoding encoded subjects: decode_header').":
        'over((first, last)) 给出每篇文章的 message-id 和 references；references 中的最后一项是父文章；按深度优先遍历各个话题，子文章按编号排序，每个主题都用 decode_header 解码（见第 3 章“Threads: the References header”和“Decoding encoded subjects: decode_header”两节）。',
    "A reference to an article that is not in this group (or not on the server) cannot be a parent here: the article starts a thread of its own (chapter 3, 'Threads: the References header').":
        '引用的文章如果不在本组（或不在服务器上），就不能当作这里的父文章：这篇文章自己开启一个话题（见第 3 章“Threads: the References header”一节）。',
    "Parse the article's lines with email.message_from_bytes(..., policy=email.policy.default): its headers are decoded for you and get_content() gives the body as text (chapter 3, 'Reading an article: article').":
        '用 email.message_from_bytes(..., policy=email.policy.default) 解析文章的各行：头部会替你解码好，get_content() 给出文本形式的正文（见第 3 章“Reading an article: article”一节）。',
    "nntplib undoes the dot-stuffing of lines that start with a dot: use its lines as they come (chapter 3, 'The protocol on the wire').":
        'nntplib 已经去掉了以点开头的行前多加的那个点（dot-stuffing）：它给出的行直接使用即可（见第 3 章“The protocol on the wire”一节）。',
    "NNTP_SSL(host, nntps_port, ssl_context=ssl.create_default_context(cafile=ca_file)), login, post an article with a Message-ID of your own, then find its number in the Xref header (chapter 3, 'Encrypted news: NNTP_SSL and login').":
        'NNTP_SSL(host, nntps_port, ssl_context=ssl.create_default_context(cafile=ca_file))，登录，用你自己的 Message-ID 发表一篇文章，再从 Xref 头中找出它的编号（见第 3 章“Encrypted news: NNTP_SSL and login”一节）。',
    "Let the server's 481 reach the caller, and verify the certificate against the CA file you were given, not a default (chapter 3, 'Encrypted news: NNTP_SSL and login').":
        '让服务器的 481 传给调用者，并用给你的 CA 文件验证证书，不要用默认的 CA（见第 3 章“Encrypted news: NNTP_SSL and login”一节）。',
    # tests/exercises/checks/test_ex04.py
    "set_debuglevel(1) prints each command smtplib sends to sys.stderr: catch it with contextlib.redirect_stderr and keep the first word of each 'send:' line; every recipient, Cc and Bcc too, gets its own RCPT (chapter 4b, 'Reading the dialogue: set_debuglevel(1)' and 'The envelope and Bcc').":
        'set_debuglevel(1) 会把 smtplib 发出的每条命令打印到 sys.stderr：用 contextlib.redirect_stderr 截获它，保留每个“send:”行的第一个词；每个收件人（包括抄送 Cc 和密送 Bcc）都有自己的一条 RCPT（见第 4b 章“Reading the dialogue: set_debuglevel(1)”和“The envelope and Bcc”两节）。',
    "set_content(text), add_alternative(html, subtype='html'), then add_related(png, 'image', 'png', cid='<name>') on the HTML part turns it into multipart/related (chapter 4, 'Text and HTML together: multipart/alternative' and 'An image attachment').":
        "set_content(text)、add_alternative(html, subtype='html')，再在 HTML 部分上调用 add_related(png, 'image', 'png', cid='<name>')，它就变成 multipart/related（见第 4 章“Text and HTML together: multipart/alternative”和“An image attachment”两节）。",
    "A message needs From, To (every recipient), Subject, Date and Message-ID (chapter 4, 'The anatomy of a message (RFC 5322)').":
        '一封邮件需要 From、To（每个收件人）、Subject、Date 和 Message-ID（见第 4 章“The anatomy of a message (RFC 5322)”一节）。',
    "One SMTP_SSL(host, port, context=ssl.create_default_context(cafile=ca_file)), one login, then send_message per message; catch SMTPRecipientsRefused (all refused) and keep its .recipients (chapter 4b, 'Many messages over one connection' and 'Refused recipients').":
        '只建一个 SMTP_SSL(host, port, context=ssl.create_default_context(cafile=ca_file))，只登录一次，然后每封邮件调用一次 send_message；捕获 SMTPRecipientsRefused（所有收件人都被拒绝），保留它的 .recipients（见第 4b 章“Many messages over one connection”和“Refused recipients”两节）。',
    "Let SMTPAuthenticationError reach the caller, and verify the server's certificate against the CA file you were given (chapter 4b, 'Logging in: login()' and 'Encryption from the first byte: SMTP_SSL').":
        '让 SMTPAuthenticationError 传给调用者，并用给你的 CA 文件验证服务器的证书（见第 4b 章“Logging in: login()”和“Encryption from the first byte: SMTP_SSL”两节）。',
    "A refusal of every recipient raises SMTPRecipientsRefused, whose .recipients holds a (code, text) per recipient; a 4xx code means: close, sleep, open a new connection and send again, doubling the sleep each time (chapter 4b, 'When the server says no: retry on 4xx, give up on 5xx').":
        '所有收件人都被拒绝时会抛出 SMTPRecipientsRefused，它的 .recipients 为每个收件人保存一个（代码，文本）；4xx 代码的意思是：关闭连接，等待一会儿，再打开一个新连接重新发送，每次等待的时间加倍（见第 4b 章“When the server says no: retry on 4xx, give up on 5xx”一节）。',
    "Count the attempts: when the last one is refused with a 4xx too, raise the library's exception to the caller instead of trying for ever (chapter 4b, 'When the server says no: retry on 4xx, give up on 5xx').":
        '记下尝试的次数：最后一次也被 4xx 拒绝时，把库抛出的异常交给调用者，不要无休止地重试（见第 4b 章“When the server says no: retry on 4xx, give up on 5xx”一节）。',
    "A 5xx is permanent: the same message will get the same answer, so raise at once without a second connection; look at the code in .recipients (or .smtp_code) before deciding (chapter 4b, 'When the server says no: retry on 4xx, give up on 5xx').":
        '5xx 是永久性的失败：同一封邮件再发也会得到同样的回答，所以要立即抛出异常，不要再建第二个连接；做决定之前先看 .recipients（或 .smtp_code）里的代码（见第 4b 章“When the server says no: retry on 4xx, give up on 5xx”一节）。',
    "Greylisting is a 451 too: the server accepts the same sender and recipient when they come back later, so backing off and retrying is all it takes (chapter 4b, 'Greylisting').":
        '灰名单（greylisting）回复的也是 451：同一个发件人和收件人过一会儿再来时，服务器就会接受，所以只要退避后重试就够了（见第 4b 章“Greylisting”一节）。',
    "Each step starts with 'C: ' or 'S: ' after 4 columns ('tls ' or spaces); lines indented further continue the step above. A C: step that follows a 354 is the message, one that follows a 334 answers AUTH's challenge: neither is a command (chapter 4, 'Reading the transcript').":
        "每一步在 4 列之后（'tls ' 或空格）以 'C: ' 或 'S: ' 开头；缩进更深的行是上一步的延续。紧跟在 354 之后的 C: 步是邮件本身，紧跟在 334 之后的是对 AUTH 质询的回答：两者都不是命令（见第 4 章“Reading the transcript”一节）。",
    # tests/exercises/checks/test_ex05.py
    "uidl() lists 'number uid' lines: retr only the numbers whose uid is new, join the lines with CRLF, and end with quit() without any dele (chapter 5a, 'Unique ids: uidl' and 'Deleting: dele, rset, and the UPDATE state').":
        'uidl() 列出“编号 uid”形式的行：只对 uid 是新的那些编号调用 retr，各行用 CRLF 连接，最后调用 quit()，不要 dele（见第 5a 章“Unique ids: uidl”和“Deleting: dele, rset, and the UPDATE state”两节）。',
    "select(mailbox, readonly=True), uid('SEARCH', criteria), then uid('FETCH', ..., '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])') and decode each Subject (chapter 5b, 'Searching on the server: search' and 'Downloading: fetch').":
        "select(mailbox, readonly=True)，uid('SEARCH', criteria)，再 uid('FETCH', ..., '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')，并解码每个 Subject（见第 5b 章“Searching on the server: search”和“Downloading: fetch”两节）。",
    "iter_attachments() of a message parsed with policy.default, get_payload(decode=True) for the bytes (chapter 5c, 'Walking the parts: walk, get_content_type, get_payload(decode=True)').":
        '对用 policy.default 解析的邮件调用 iter_attachments()，用 get_payload(decode=True) 取得字节（见第 5c 章“Walking the parts: walk, get_content_type, get_payload(decode=True)”一节）。',
    "The file name is the sender's choice: keep only its last part (after / or \\), so nothing is written outside the folder (chapter 5c, 'Walking the parts: walk, get_content_type, get_payload(decode=True)').":
        '文件名由发件人决定：只保留最后一段（/ 或 \\ 之后的部分），这样任何文件都不会写到该文件夹之外（见第 5c 章“Walking the parts: walk, get_content_type, get_payload(decode=True)”一节）。',
    "Send 'tag IDLE', wait for '+', then read untagged lines (select() on imap.sock with what is left of the timeout) until '* n EXISTS'; end with DONE and read the tagged reply (chapter 5b, 'Waiting for new mail: NOOP and IDLE').":
        '发送“tag IDLE”，等待“+”，然后读取不带标签的行（在 imap.sock 上用 select()，等待时间取超时的剩余部分），直到出现“* n EXISTS”；最后发送 DONE 并读取带标签的响应（见第 5b 章“Waiting for new mail: NOOP and IDLE”一节）。',
    "Printable ASCII stays, '&' becomes '&-', every other run becomes '&' + base64 of its UTF-16BE bytes with ',' for '/' and no '=' + '-' (chapter 5b, 'Folder names beyond ASCII: modified UTF-7').":
        "可打印的 ASCII 字符保持不变，'&' 变成 '&-'，其余每一段字符变成 '&' + 其 UTF-16BE 字节的 base64（用 ',' 代替 '/'，去掉 '='）+ '-'（见第 5b 章“Folder names beyond ASCII: modified UTF-7”一节）。",
    "The server lists and opens folders by their encoded names (chapter 5b, 'Folder names beyond ASCII: modified UTF-7').":
        '服务器按编码后的名字列出和打开文件夹（见第 5b 章“Folder names beyond ASCII: modified UTF-7”一节）。',
    "Try the declared charset strictly, then each fallback; a LookupError (an unknown name) or UnicodeDecodeError means: try the next one (chapter 5c, 'Mail in Chinese charsets: GBK and GB2312' and 'When the charset is missing or wrong').":
        '先严格按声明的字符集解码，再依次尝试各个备选字符集；遇到 LookupError（未知的字符集名）或 UnicodeDecodeError 就换下一个（见第 5c 章“Mail in Chinese charsets: GBK and GB2312”和“When the charset is missing or wrong”两节）。',
    "When nothing decodes strictly, decode with errors='replace' so the caller still gets text (chapter 5c, 'When the charset is missing or wrong').":
        "如果没有一个字符集能严格解码，就用 errors='replace' 解码，让调用者仍然得到文本（见第 5c 章“When the charset is missing or wrong”一节）。",
    "Keep a dict {uid: message} across sessions and put a message in it only once retr() returned it whole; when poplib raises error_proto or OSError, close() the broken connection, log in again, ask uidl() again and retr only the ids not in the dict yet (chapter 5a, 'When the connection drops mid-download: resume with UIDL').":
        '在各个会话之间保留一个字典 {uid: 邮件}，只有在 retr() 完整返回一封邮件之后才把它放进去；poplib 抛出 error_proto 或 OSError 时，对断开的连接调用 close()，重新登录，再问一次 uidl()，只对还不在字典里的 id 调用 retr（见第 5a 章“When the connection drops mid-download: resume with UIDL”一节）。',
    "Count the sessions: when the last one allowed breaks too, let its exception reach the caller rather than returning a mailbox with holes in it (chapter 5a, 'When the connection drops mid-download: resume with UIDL').":
        '记下会话的次数：允许的最后一个会话也断开时，让它的异常传给调用者，而不是返回一个缺了邮件的邮箱（见第 5a 章“When the connection drops mid-download: resume with UIDL”一节）。',
    # tests/exercises/checks/test_ex06.py
    "urlopen follows redirects for you; an error status arrives as HTTPError (catch it before URLError, its base class) whose .code is the status (chapter 6, 'Errors: HTTPError, URLError and timeouts' and 'Redirects').":
        'urlopen 会替你跟随重定向；错误状态以 HTTPError 的形式出现（要在它的基类 URLError 之前捕获），其 .code 就是状态码（见第 6 章“Errors: HTTPError, URLError and timeouts”和“Redirects”两节）。',
    "No reply at all (refused, timed out, a certificate nobody vouches for) is URLError or OSError: return None (chapter 6, 'Errors: HTTPError, URLError and timeouts' and 'HTTPS with the course's certificate authority').":
        "根本没有响应（连接被拒绝、超时、证书无人担保）时是 URLError 或 OSError：返回 None（见第 6 章“Errors: HTTPError, URLError and timeouts”和“HTTPS with the course's certificate authority”两节）。",
    "Feed the page to an HTMLParser that keeps each <a href>, and urljoin each link with reply.url, where the page really is after redirects (chapter 6, 'urllib.request: urlopen and info()' and 'Redirects').":
        '把页面交给一个记下每个 <a href> 的 HTMLParser，再用 reply.url（经过重定向后页面的真实地址）对每个链接调用 urljoin（见第 6 章“urllib.request: urlopen and info()”和“Redirects”两节）。',
    "ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(SimpleHTTPRequestHandler, directory=folder)), serve_forever in a daemon thread, and a log_message that prints nothing (chapter 6b, 'http.server: serving a folder').":
        "ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(SimpleHTTPRequestHandler, directory=folder))，在守护线程里 serve_forever，并提供一个什么也不打印的 log_message（见第 6b 章“http.server: serving a folder”一节）。",
    "build_opener(HTTPBasicAuthHandler(a password manager with base_url, user, password), HTTPCookieProcessor(CookieJar())) (chapter 6, 'Basic authentication: HTTPBasicAuthHandler' and 'Cookies: HTTPCookieProcessor').":
        'build_opener(HTTPBasicAuthHandler(一个记有 base_url、用户名和密码的密码管理器), HTTPCookieProcessor(CookieJar()))（见第 6 章“Basic authentication: HTTPBasicAuthHandler”和“Cookies: HTTPCookieProcessor”两节）。',
    "ssl.create_default_context(cafile=cafile), connect, and read subjectAltName from sock.getpeercert() (chapter 6, 'HTTPS with the course's certificate authority').":
        "ssl.create_default_context(cafile=cafile)，建立连接，再从 sock.getpeercert() 中读出 subjectAltName（见第 6 章“HTTPS with the course's certificate authority”一节）。",
    "Send Accept-Encoding: gzip, and gzip.decompress only when the reply's Content-Encoding says gzip (chapter 6b, 'Compressed responses: gzip').":
        '发送 Accept-Encoding: gzip，只有当响应的 Content-Encoding 表明是 gzip 时才调用 gzip.decompress（见第 6b 章“Compressed responses: gzip”一节）。',
    "Loop on reply.read(chunk_size) until it returns b'', updating a sha256 and writing each piece (chapter 6b, 'Streamed downloads').":
        "循环调用 reply.read(chunk_size) 直到返回 b''，每读一块就更新 sha256 并写入文件（见第 6b 章“Streamed downloads”一节）。",
    "The body is --boundary parts, each with Content-Disposition: form-data; name=...; the file's also with filename= and Content-Type, then --boundary-- (chapter 6b, 'Uploading files: multipart/form-data').":
        '正文由若干 --boundary 部分组成，每部分带 Content-Disposition: form-data; name=...；文件部分还要带 filename= 和 Content-Type，最后以 --boundary-- 结束（见第 6b 章“Uploading files: multipart/form-data”一节）。',
    "A RobotFileParser per site, read once and kept; can_fetch(agent, url) before the GET, PermissionError when it says no (chapter 6b, 'Rules for robots: urllib.robotparser').":
        '每个网站一个 RobotFileParser，只读取一次并保存下来；GET 之前先调用 can_fetch(agent, url)，不允许时抛出 PermissionError（见第 6b 章“Rules for robots: urllib.robotparser”一节）。',
    "SimpleXMLRPCServer(('127.0.0.1', 0), logRequests=False), register_function for add and multiply, register_introspection_functions, serve_forever in a thread (chapter 6b, 'Remote procedure calls: xmlrpc').":
        "SimpleXMLRPCServer(('127.0.0.1', 0), logRequests=False)，用 register_function 注册 add 和 multiply，再调用 register_introspection_functions，在线程里 serve_forever（见第 6b 章“Remote procedure calls: xmlrpc”一节）。",
    # tests/exercises/checks/test_ex07.py
    "SMTP_SSL(host, port, context=ssl.create_default_context(cafile=ca_file)), then login(address, app_password) and send_message(msg): the app password takes the place of the account's password, nothing else changes (appendix, 'Gmail: an app password').":
        'SMTP_SSL(host, port, context=ssl.create_default_context(cafile=ca_file))，然后 login(address, app_password)，再 send_message(msg)：应用专用密码代替账号的密码，其他什么都不用改（见附录“Gmail: an app password”一节）。',
    "Do not catch SMTPAuthenticationError: its smtp_code and smtp_error are what tells the caller which problem it has (534 app password needed, 535 wrong password) (appendix, 'Gmail: the account's password is refused').":
        "不要捕获 SMTPAuthenticationError：调用者要靠它的 smtp_code 和 smtp_error 才知道遇到的是哪种问题（534 表示需要应用专用密码，535 表示密码错误）（见附录“Gmail: the account's password is refused”一节）。",
    "POST grant_type=refresh_token, refresh_token, client_id and client_secret as a form to token_url; its JSON reply holds access_token. Then imap.authenticate('XOAUTH2', lambda challenge: 'user=' + address + '\\x01auth=Bearer ' + token + '\\x01\\x01') (appendix, 'Gmail and Outlook: OAuth2 and XOAUTH2').":
        "把 grant_type=refresh_token、refresh_token、client_id 和 client_secret 作为表单 POST 到 token_url；它的 JSON 回复里有 access_token。然后调用 imap.authenticate('XOAUTH2', lambda challenge: 'user=' + address + '\\x01auth=Bearer ' + token + '\\x01\\x01')（见附录“Gmail and Outlook: OAuth2 and XOAUTH2”一节）。",
    'After login, send ID before SELECT: imaplib has no method for it, but imap.xatom(\'ID\', \'("name" "my-client")\') sends it; then select(\'INBOX\', readonly=True) answers OK with the number of messages (appendix, \'163 Mail: ID before SELECT\').':
        '登录之后、SELECT 之前先发送 ID：imaplib 没有对应的方法，但 imap.xatom(\'ID\', \'("name" "my-client")\') 可以发送它；然后 select(\'INBOX\', readonly=True) 会回答 OK 和邮件的数目（见附录“163 Mail: ID before SELECT”一节）。',
    # tests/labs/test_ftp.py
    "Log in, change to the folder, RETR the file into a local file: see chapter 2, 'Downloading: retrlines, retrbinary, and callbacks', and use the host and port you are given.":
        '登录，进入目录，用 RETR 把文件取到本地文件中：见第 2 章“Downloading: retrlines, retrbinary, and callbacks”一节，并使用给你的主机和端口。',
    "A file that is not text must be transferred in binary mode (TYPE I), bytes written as they come: see chapter 2, 'Downloading: retrlines, retrbinary, and callbacks'.":
        '不是文本的文件必须用二进制模式（TYPE I）传输，字节收到多少就写入多少：见第 2 章“Downloading: retrlines, retrbinary, and callbacks”一节。',
    "connect() fails with an OSError when nothing listens: raise DownloadError('connect', ...) (see chapter 2, 'The classic download function').":
        "没有程序在监听时，connect() 会抛出 OSError：这时抛出 DownloadError('connect', ...)（见第 2 章“The classic download function”一节）。",
    "A server that never answers makes connect() time out: TimeoutError is an OSError too, and the timeout you are given must be used (see chapter 1a, 'The errors a client meets').":
        '服务器始终不响应，connect() 就会超时：TimeoutError 也是一种 OSError，而且必须使用给你的超时时间（见第 1a 章“The errors a client meets”一节）。',
    "A host name that does not resolve raises socket.gaierror, an OSError as well: catch the OSError family, not one of its members (see chapter 1a, 'The errors a client meets').":
        '无法解析的主机名会引发 socket.gaierror，它同样是 OSError：要捕获整个 OSError 家族，而不是其中某一个成员（见第 1a 章“The errors a client meets”一节）。',
    "A refused login is a 530 reply, which ftplib raises as error_perm (see chapter 2, 'Anonymous and named logins').":
        '登录被拒绝时服务器以 530 响应，ftplib 把它作为 error_perm 抛出（见第 2 章“Anonymous and named logins”一节）。',
    "Change to the folder before asking for the file: the reply to CWD says whether the folder exists (see chapter 2, 'Where am I? pwd, cwd, and raw commands').":
        '先进入目录，再请求文件：CWD 的响应会告诉你这个目录是否存在（见第 2 章“Where am I? pwd, cwd, and raw commands”一节）。',
    "RETR of a missing file is refused with a 550 reply; a local file opened before it must not stay behind (see chapter 2, 'The classic download function').":
        'RETR 一个不存在的文件会得到 550 响应；在此之前打开的本地文件不能留下来（见第 2 章“The classic download function”一节）。',
    "MLSD tells files from folders ('type' fact): walk the folders recursively and make the local ones as you go (see chapter 2, 'Listing folders: nlst, dir and mlsd').":
        "MLSD 能区分文件和目录（'type' 事实）：递归地遍历各个目录，一边遍历一边在本地创建对应的文件夹（见第 2 章“Listing folders: nlst, dir and mlsd”一节）。",
    "Binary files in a mirror too: retrbinary, not retrlines (see chapter 2, 'Downloading: retrlines, retrbinary, and callbacks').":
        '镜像中的二进制文件也一样：用 retrbinary，而不是 retrlines（见第 2 章“Downloading: retrlines, retrbinary, and callbacks”一节）。',
    "REST tells the server where to start the next transfer; what arrives is appended to what you have (see chapter 2, 'Downloading: retrlines, retrbinary, and callbacks').":
        'REST 告诉服务器下一次传输从哪里开始；收到的数据追加到已有的内容之后（见第 2 章“Downloading: retrlines, retrbinary, and callbacks”一节）。',
    "Upload in binary mode, to the server and account you are given (see chapter 2, 'Uploading: storbinary and storlines').":
        '用二进制模式上传，上传到给你的服务器和账户（见第 2 章“Uploading: storbinary and storlines”一节）。',
    # tests/labs/test_http.py
    "One request to the host and port you are given, then read and decode the JSON body (see chapter 6, 'http.client: a GET request').":
        '向给你的主机和端口发出一个请求，然后读取并解码 JSON 正文（见第 6 章“http.client: a GET request”一节）。',
    "http.client does not follow redirects: a 3xx answer names the next URL in its Location header, which may be relative (see chapter 6, 'Redirects').":
        'http.client 不会跟随重定向：3xx 响应在 Location 头中给出下一个 URL，它可能是相对地址（见第 6 章“Redirects”一节）。',
    "A server may redirect for ever: count the redirects and stop after the limit the docstring gives (see chapter 6, 'Redirects').":
        '服务器可能无休止地重定向：要数一数重定向的次数，达到文档字符串规定的上限就停下（见第 6 章“Redirects”一节）。',
    "A status of 400 or more is an answer, not an exception of http.client: look at response.status (see chapter 6, 'Other methods, and statuses that are not 200').":
        '400 及以上的状态码是一个回答，而不是 http.client 的异常：请查看 response.status（见第 6 章“Other methods, and statuses that are not 200”一节）。',
    "A JSON body is bytes, announced by its Content-Type header (see chapter 6, 'http.client: a JSON POST, on the same connection').":
        'JSON 正文是字节，并由 Content-Type 头声明其类型（见第 6 章“http.client: a JSON POST, on the same connection”一节）。',
    "urllib follows redirects itself; the response knows the URL it ended at (see chapter 6, 'Redirects').":
        'urllib 会自己跟随重定向；响应对象知道它最终到达的 URL（见第 6 章“Redirects”一节）。',
    "Giving urllib.request.Request data makes it a POST; say what the body is with a Content-Type header (see chapter 6, 'Request: sending data').":
        '给 urllib.request.Request 传入 data，它就成了 POST 请求；用 Content-Type 头说明正文是什么（见第 6 章“Request: sending data”一节）。',
    "urlopen raises HTTPError for a status of 400 or more; it carries the code (see chapter 6, 'Errors: HTTPError, URLError and timeouts').":
        '状态码在 400 及以上时 urlopen 会抛出 HTTPError，其中带有状态码（见第 6 章“Errors: HTTPError, URLError and timeouts”一节）。',
    "The query string is in self.path after '?': split the URL and parse the query; send the status, the headers (Content-Type, Content-Length), a blank line, then the body (see chapter 6b, 'http.server: a handler of your own').":
        "查询字符串在 self.path 的 '?' 之后：拆开 URL 并解析查询部分；依次发送状态行、响应头（Content-Type、Content-Length）、一个空行，然后是正文（见第 6b 章“http.server: a handler of your own”一节）。",
    "A path the API does not have is 404, with a JSON error body (see chapter 6b, 'http.server: a handler of your own').":
        'API 中没有的路径返回 404，并带一个 JSON 格式的错误正文（见第 6b 章“http.server: a handler of your own”一节）。',
    "Read exactly Content-Length bytes of body from self.rfile, then decode the JSON (see chapter 6b, 'http.server: a handler of your own').":
        '从 self.rfile 中恰好读取 Content-Length 个字节的正文，再解码 JSON（见第 6b 章“http.server: a handler of your own”一节）。',
    "A body that is not what the API expects is the client's error: 400 with a JSON error, and the server keeps serving (see chapter 6b, 'http.server: serving a folder').":
        '正文不符合 API 的要求，是客户端的错误：返回 400 和一个 JSON 错误，服务器继续正常服务（见第 6b 章“http.server: serving a folder”一节）。',
    "POST has its own paths: one the API does not have is 404 too (see chapter 6b, 'http.server: a handler of your own').":
        'POST 有它自己的路径：API 中没有的路径同样返回 404（见第 6b 章“http.server: a handler of your own”一节）。',
    # tests/labs/test_mail.py
    "STAT answers with the number of messages and their size in octets: see chapter 5a, 'The mailbox at a glance: stat and list', and use the server you are given.":
        'STAT 的回答是邮件的数量和它们以八位组计的总大小：见第 5a 章“The mailbox at a glance: stat and list”一节，并使用给你的服务器。',
    "Read only the headers (TOP n 0) and keep the address of From, in lower case (email.utils.parseaddr): see chapter 5a, 'A quick look: top'.":
        '只读取邮件头（TOP n 0），保留 From 中的地址，并转成小写（email.utils.parseaddr）：见第 5a 章“A quick look: top”一节。',
    "A report only reads: no DELE, and QUIT at the end so the session closes cleanly (see chapter 5a, 'Deleting: dele, rset, and the UPDATE state').":
        '统计报告只读不写：不要 DELE，最后发送 QUIT，让会话正常结束（见第 5a 章“Deleting: dele, rset, and the UPDATE state”一节）。',
    "Give the message an id of its own, then look for that id in the POP3 mailbox: see chapter 5a, 'The round trip: send with SMTP, receive with POP3'.":
        '给邮件一个独有的 id，然后在 POP3 邮箱里查找这个 id：见第 5a 章“The round trip: send with SMTP, receive with POP3”一节。',
    "Poll until a deadline computed from the caller's wait, then give up with RuntimeError (see chapter 5a, 'The round trip: send with SMTP, receive with POP3').":
        '按调用者给的等待时间算出截止时刻，在此之前反复轮询，到时仍未收到就抛出 RuntimeError（见第 5a 章“The round trip: send with SMTP, receive with POP3”一节）。',
    "The criteria go to the server as given, quotes included: a quoted string may hold spaces. Copy by UID, then mark \\Deleted and expunge (see chapter 5b, 'Searching on the server: search' and 'Folders: create, copy, move, status').":
        '搜索条件原样交给服务器，引号也保留：带引号的字符串可以包含空格。按 UID 复制，然后标记 \\Deleted 并 expunge（见第 5b 章“Searching on the server: search”和“Folders: create, copy, move, status”两节）。',
    "CREATE answers NO when the folder exists: that is fine, go on (see chapter 5b, 'Folders: create, copy, move, status').":
        '文件夹已存在时 CREATE 的响应是 NO：这没有关系，继续往下做（见第 5b 章“Folders: create, copy, move, status”一节）。',
    # tests/labs/test_nntp.py
    "GROUP gives the first and last article numbers; ask the overview (OVER) for the last n only, newest first, and decode the encoded-words: see chapter 3, 'Listing a group: over' and 'Decoding encoded subjects: decode_header'.":
        'GROUP 给出第一篇和最后一篇文章的编号；只向概览（OVER）请求最后 n 篇，最新的在前，并解码其中的编码字（encoded-word）：见第 3 章“Listing a group: over”和“Decoding encoded subjects: decode_header”两节。',
    "A group may hold fewer articles than asked for: never ask for numbers below its first (see chapter 3, 'Selecting a group: GROUP and its reply').":
        '新闻组里的文章可能比要求的少：不要请求比第一篇编号更小的文章（见第 3 章“Selecting a group: GROUP and its reply”一节）。',
    "Compare decoded values (decode_header) in one case (lower()), and turn the article numbers into Message-IDs: see chapter 3, 'One header of many articles: xhdr'.":
        '比较解码后的值（decode_header），并统一大小写（lower()），再把文章编号换成 Message-ID：见第 3 章“One header of many articles: xhdr”一节。',
    "The overview holds only a few headers (LIST OVERVIEW.FMT); HDR/XHDR reads any header (see chapter 3, 'One header of many articles: xhdr').":
        '概览中只有少数几个头部字段（LIST OVERVIEW.FMT）；HDR/XHDR 可以读取任何头部字段（见第 3 章“One header of many articles: xhdr”一节）。',
    "A follow-up goes to the parent's Followup-To (else its Newsgroups), with 'Re: ' before the subject once: see chapter 3, 'Posting a follow-up'.":
        "跟帖发往父文章的 Followup-To（没有时发往它的 Newsgroups），主题前加且只加一次 'Re: '：见第 3 章“Posting a follow-up”一节。",
    "References is the parent's References followed by the parent's Message-ID, and a reply to a reply does not stack 'Re:' (see chapter 3, 'Threads: the References header').":
        "References 是父文章的 References 后面接上父文章的 Message-ID；回复的回复不会叠加多个 'Re:'（见第 3 章“Threads: the References header”一节）。",
    "A long header is folded over several lines (a continuation line starts with white space): unfold it before reading its value (see chapter 3, 'Threads: the References header').":
        '长的头部字段会折叠成多行（续行以空白字符开头）：读取它的值之前先展开（见第 3 章“Threads: the References header”一节）。',
    # tests/labs/test_smtp.py
    "The body is multipart/mixed holding a multipart/alternative (plain text first, then HTML) and the attachment: see chapter 4, 'Text and HTML together: multipart/alternative' and 'An image attachment'.":
        '正文是 multipart/mixed，其中包含一个 multipart/alternative（先纯文本，后 HTML）和附件：见第 4 章“Text and HTML together: multipart/alternative”和“An image attachment”两节。',
    "An attachment keeps its bytes (base64 transfer encoding), its file name (Content-Disposition) and a type guessed from the name: see chapter 4, 'An image attachment'.":
        '附件要保持原有的字节（base64 传输编码）、文件名（Content-Disposition）以及根据文件名推测出的类型：见第 4 章“An image attachment”一节。',
    "From and To are addresses: every recipient in one To header, joined with commas (see chapter 4, 'The anatomy of a message (RFC 5322)').":
        'From 和 To 都是地址：所有收件人放在同一个 To 头里，用逗号分隔（见第 4 章“The anatomy of a message (RFC 5322)”一节）。',
    "A non-ASCII subject travels as an encoded-word; Date and Message-ID come from email.utils (see chapter 4, 'Non-ASCII text: encoded-words and transfer encodings' and 'The anatomy of a message (RFC 5322)').":
        '非 ASCII 的主题以编码字（encoded-word）的形式传送；Date 和 Message-ID 由 email.utils 生成（见第 4 章“Non-ASCII text: encoded-words and transfer encodings”和“The anatomy of a message (RFC 5322)”两节）。',
    "One connection to the host and port you are given, one message with every recipient in its envelope: see chapter 4b, 'The envelope and Bcc'.":
        '只向给你的主机和端口建立一个连接，发一封邮件，信封里包含所有收件人：见第 4b 章“The envelope and Bcc”一节。',
    "The server refuses some RCPT TO with 550 and accepts the others: smtplib returns the refused ones with their code (see chapter 4b, 'Refused recipients').":
        '服务器用 550 拒绝部分 RCPT TO，接受其余的：smtplib 会返回被拒绝的收件人及其响应码（见第 4b 章“Refused recipients”一节）。',
    "When every RCPT TO is refused smtplib raises SMTPRecipientsRefused, whose recipients attribute holds them all (see chapter 4b, 'Refused recipients').":
        '所有 RCPT TO 都被拒绝时，smtplib 抛出 SMTPRecipientsRefused，它的 recipients 属性包含全部收件人（见第 4b 章“Refused recipients”一节）。',
    # tests/labs/test_sockets.py
    "The reply is the ctime in square brackets, a space, then the line's bytes unchanged: see chapter 1a, 'Server methods: bind, listen, accept'.":
        '响应是方括号中的 ctime、一个空格，然后是原样不变的该行字节：见第 1a 章“Server methods: bind, listen, accept”一节。',
    "Answer every line with timestamp_reply(line) until recv() returns b'', and listen on the port you are given: see chapter 1a, 'Server methods: bind, listen, accept'.":
        "对每一行都用 timestamp_reply(line) 作答，直到 recv() 返回 b''，并在给你的端口上监听：见第 1a 章“Server methods: bind, listen, accept”一节。",
    "TCP is a byte stream, not a sequence of messages: see chapter 1a, 'TCP is a byte stream, not a series of messages'. A line may arrive in many recv()s and a UTF-8 character may be cut between two: keep the bytes until b'\\n' arrives, and never decode a piece.":
        "TCP 是字节流，不是一条条消息：见第 1a 章“TCP is a byte stream, not a series of messages”一节。一行可能分成多次 recv() 才到齐，一个 UTF-8 字符也可能被切成两半：先保存字节，直到收到 b'\\n'，不要解码其中的片段。",
    "TCP is a byte stream, not a sequence of messages: see chapter 1a, 'TCP is a byte stream, not a series of messages'. One recv() may hold two lines: answer each whole line in the buffer.":
        'TCP 是字节流，不是一条条消息：见第 1a 章“TCP is a byte stream, not a series of messages”一节。一次 recv() 可能包含两行：缓冲区中的每个完整行都要回答。',
    "The data is bytes, not necessarily text: send it back as it came, without decoding (see chapter 1a, 'TCP is a byte stream, not a series of messages').":
        '数据是字节，不一定是文本：原样发回，不要解码（见第 1a 章“TCP is a byte stream, not a series of messages”一节）。',
    "A server that serves one client at a time keeps the others waiting: give each connection a thread of its own (see chapter 1b, 'socketserver: the accept loop, written for you').":
        '一次只服务一个客户端的服务器会让其他客户端一直等待：给每个连接一个自己的线程（见第 1b 章“socketserver: the accept loop, written for you”一节）。',
    "close() must also end the connections of clients still connected, whose threads wait in recv(): shut their sockets down (see chapter 1b, 'socketserver: the accept loop, written for you').":
        'close() 还必须结束仍然连着的客户端的连接，它们的线程正阻塞在 recv() 上：关闭（shutdown）这些套接字（见第 1b 章“socketserver: the accept loop, written for you”一节）。',
    "close() must close the listening socket, so the port is free for the next server (see chapter 1a, 'Server methods: bind, listen, accept').":
        'close() 必须关闭监听套接字，让下一个服务器可以使用这个端口（见第 1a 章“Server methods: bind, listen, accept”一节）。',
    "close() must stop serve_forever() and wait for the threads it started (shutdown(), then join them): see chapter 1b, 'socketserver: the accept loop, written for you'.":
        'close() 必须停止 serve_forever() 并等待它启动的线程结束（先 shutdown()，再逐个 join）：见第 1b 章“socketserver: the accept loop, written for you”一节。',
    "TCP is a byte stream, not a sequence of messages: see chapter 1a, 'TCP is a byte stream, not a series of messages'. A reply may come in several pieces: keep reading until its b'\\n', and connect to the host and port you are given.":
        "TCP 是字节流，不是一条条消息：见第 1a 章“TCP is a byte stream, not a series of messages”一节。响应可能分成几块到达：一直读到它的 b'\\n'，并连接到给你的主机和端口。",
    "Nothing listens there: let the OSError (ConnectionRefusedError) reach the caller (see chapter 1a, 'The errors a client meets').":
        '那里没有程序在监听：让 OSError（ConnectionRefusedError）传给调用者（见第 1a 章“The errors a client meets”一节）。',
    "A server that never answers: the timeout given must apply to every recv() (settimeout), and its TimeoutError reach the caller (see chapter 1a, 'Blocking, non-blocking, and timeouts').":
        '服务器始终不响应：给定的超时必须作用于每一次 recv()（settimeout），并让其 TimeoutError 传给调用者（见第 1a 章“Blocking, non-blocking, and timeouts”一节）。',
    "Each datagram is a whole message: answer it with sendto(reply, client_address), bytes unchanged, on the port you are given (see chapter 1a, 'UDP: datagrams, no connection').":
        '每个数据报都是一条完整的消息：用 sendto(reply, client_address) 回答，字节原样不变，并在给你的端口上服务（见第 1a 章“UDP: datagrams, no connection”一节）。',
    "close() must stop the serving thread and close the socket, so the port is free again (see chapter 1a, 'UDP: datagrams, no connection').":
        'close() 必须停止服务线程并关闭套接字，让这个端口重新空出来（见第 1a 章“UDP: datagrams, no connection”一节）。',
    "One SOCK_DGRAM socket: sendto() each message to the address you are given, recvfrom() its reply (see chapter 1a, 'UDP: datagrams, no connection').":
        '只用一个 SOCK_DGRAM 套接字：用 sendto() 把每条消息发往给你的地址，用 recvfrom() 接收它的响应（见第 1a 章“UDP: datagrams, no connection”一节）。',
    "UDP may lose a datagram: with settimeout(timeout), recvfrom() raises TimeoutError; let it reach the caller (see chapter 1a, 'UDP: datagrams, no connection').":
        'UDP 可能丢失数据报：设置 settimeout(timeout) 后，recvfrom() 会抛出 TimeoutError；让它传给调用者（见第 1a 章“UDP: datagrams, no connection”一节）。',
}
