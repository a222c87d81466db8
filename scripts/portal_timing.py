#!/usr/bin/env python3
"""Logs in to the portal and times the account overview and the first VA's page (3 loads each).

usage: portal_timing.py BASE_URL CA_FILE EMAIL PASSWORD
"""
import http.cookiejar
import re
import ssl
import sys
import time
import urllib.parse
import urllib.request

base, ca, email, password = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
opener = urllib.request.build_opener(
    urllib.request.HTTPSHandler(context=ctx), urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
)
page = opener.open(base + "/login").read().decode()
csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
form = urllib.parse.urlencode({"email": email, "password": password, "csrf": csrf}).encode()
opener.open(base + "/login", form).read()


def timed(path):
    times = []
    for _ in range(3):
        start = time.time()
        body = opener.open(base + path).read()
        times.append((time.time() - start) * 1000)
    return body.decode(), sorted(times)


home, t = timed("/")
print("portal overview: %s ms, %d bytes" % (" / ".join("%.0f" % x for x in t), len(home)))
va = re.search(r'href="/va/([^"#?]+)"', home).group(1)
body, t = timed("/va/" + va)
shown = re.search(r"(\d+ shown of \d+)", body)
print("portal VA page: %s ms, %d bytes (%s)" % (" / ".join("%.0f" % x for x in t), len(body), shown.group(1) if shown else "one page"))
