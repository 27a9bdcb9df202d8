# A token request with Ruby's Net::HTTP, run by exec_test.go (as a client
# that bypasses the proxy: Ruby never proxies hosts resolving to 127.x). No proxy or
# CA is given in code: Net::HTTP reads http_proxy (p_addr = :ENV), OpenSSL
# reads SSL_CERT_FILE.
require "net/http"
require "uri"

uri = URI(ARGV[0])
res = Net::HTTP.post_form(uri, "grant_type" => "client_credentials", "client_id" => "app", "client_secret" => ENV.fetch("CANARY_SECRET"))
puts "ruby status=#{res.code} token=#{res.body.include?("access_token")}"
