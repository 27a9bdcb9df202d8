// A token request with each of Java's two built-in HTTPS clients, run by
// exec_test.go as `java TokenClient.java HTTPCLIENT_URL URLCONNECTION_URL`
// (single-file source launch, Java 11+). Neither client is given a proxy or
// a trust store in code: both come from JAVA_TOOL_OPTIONS.
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import javax.net.ssl.HttpsURLConnection;

public class TokenClient {
    static final String FORM = "grant_type=client_credentials&client_id=app&client_secret=" + System.getenv("CANARY_SECRET");

    public static void main(String[] args) throws Exception {
        HttpClient c = HttpClient.newHttpClient();
        HttpRequest req = HttpRequest.newBuilder(URI.create(args[0]))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(FORM)).build();
        HttpResponse<String> r = c.send(req, HttpResponse.BodyHandlers.ofString());
        System.out.println("httpclient status=" + r.statusCode() + " token=" + r.body().contains("access_token"));

        HttpsURLConnection u = (HttpsURLConnection) new URL(args[1]).openConnection();
        u.setRequestMethod("POST");
        u.setDoOutput(true);
        u.setRequestProperty("Content-Type", "application/x-www-form-urlencoded");
        u.getOutputStream().write(FORM.getBytes("UTF-8"));
        String body = new String(u.getInputStream().readAllBytes(), "UTF-8");
        System.out.println("urlconnection status=" + u.getResponseCode() + " token=" + body.contains("access_token"));
    }
}
