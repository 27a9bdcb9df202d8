# A token request with Python requests, httpx or aiohttp (argv[1]), run by
# exec_test.go with /usr/bin/python3. No proxy or CA is given in code.
import os
import sys

lib, url = sys.argv[1], sys.argv[2]
form = {"grant_type": "client_credentials", "client_id": "app", "client_secret": os.environ["CANARY_SECRET"]}
if lib == "requests":
    import requests
    r = requests.post(url, data=form, timeout=30)
    status, body = r.status_code, r.text
elif lib == "httpx":
    import httpx
    r = httpx.post(url, data=form, timeout=30)
    status, body = r.status_code, r.text
else:
    # aiohttp reads HTTPS_PROXY only with trust_env=True: the one line the
    # program itself must have. Trust comes from SSL_CERT_FILE.
    import asyncio
    import aiohttp

    async def post():
        async with aiohttp.ClientSession(trust_env=True) as s:
            async with s.post(url, data=form) as r:
                return r.status, await r.text()

    status, body = asyncio.run(post())
print("%s status=%d token=%s" % (lib, status, str("access_token" in body).lower()))
