<?php
// A token request with PHP's curl extension (argv[1] = "curl") or its
// stream wrapper (file_get_contents, argv[1] = "stream"), run by
// exec_test.go. No proxy or CA is given in code.
$lib = $argv[1];
$url = $argv[2];
$form = http_build_query(["grant_type" => "client_credentials", "client_id" => "app", "client_secret" => getenv("CANARY_SECRET")]);
if ($lib === "curl") {
    $ch = curl_init($url);
    curl_setopt($ch, CURLOPT_POST, true);
    curl_setopt($ch, CURLOPT_POSTFIELDS, $form);
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    $body = curl_exec($ch);
    if ($body === false) {
        fwrite(STDERR, "php curl failed: " . curl_error($ch) . "\n");
        exit(1);
    }
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
} else {
    $ctx = stream_context_create(["http" => ["method" => "POST", "header" => "Content-Type: application/x-www-form-urlencoded", "content" => $form]]);
    $body = @file_get_contents($url, false, $ctx);
    if ($body === false) {
        fwrite(STDERR, "php stream failed: " . (error_get_last()["message"] ?? "?") . "\n");
        exit(1);
    }
    $status = (int) explode(" ", $http_response_header[0])[1];
}
echo "php-$lib status=$status token=" . (str_contains($body, "access_token") ? "true" : "false") . "\n";
