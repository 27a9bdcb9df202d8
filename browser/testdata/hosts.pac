function FindProxyForURL(url, host) {
  host = host.toLowerCase();
  if (shExpMatch(host, "*.example.com")) return "PROXY 127.0.0.1:8080";
  if (shExpMatch(host, "login.test")) return "PROXY 127.0.0.1:8080";
  return "DIRECT";
}
