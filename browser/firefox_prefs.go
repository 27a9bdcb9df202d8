package browser

// Where each Firefox preference below comes from: the lists Mozilla and the
// automation projects keep of what a browser under test must set so that it
// sends nothing of its own, Mozilla's DoH documentation, or Firefox's own
// default files (a preference set here beyond those lists).
const (
	srcRemoteAgent = "mozilla-central remote/shared/RecommendedPreferences.sys.mjs (WebDriver/Marionette)"
	srcTestProfile = "mozilla-central testing/profiles/common/user.js (Mozilla's test harnesses)"
	srcPlaywright  = "microsoft/playwright browser_patches/firefox/preferences/playwright.cfg"
	srcPuppeteer   = "puppeteer/puppeteer packages/browsers/src/browser-data/firefox.ts"
	srcTRRDocs     = "firefox-source-docs networking/dns: network.trr.mode 5 is TRR off by choice"
	srcFirefox     = "Firefox's own default files (browser/app/profile/firefox.js, modules/libpref/init/all.js); off here beyond the lists above"
)

// firefoxPref is one user_pref of the profile, with the list that
// recommends it.
type firefoxPref struct {
	name  string
	value any // bool, int or string
	src   string
	// seen, when set, is the request Firefox ESR 153 sent through the
	// proxy without this preference (the reason it is here).
	seen string
}

// firefoxQuiet are the preferences that switch off Firefox's own traffic
// (updates, telemetry, studies, remote settings, safe browsing, push, new
// tab content, captive portal and connectivity probes, DoH, geolocation)
// and its first-run pages. Checked against Firefox ESR 153 (Debian
// 153.8.0esr) with every host routed to the proxy: over 5.5 minutes the
// start page was the only traffic the proxy saw, and Firefox's only TCP
// connection went to the proxy, none to DNS (strace -f -e trace=connect).
// e2e TestBrowserFirefox checks it again on every run.
var firefoxQuiet = []firefoxPref{
	// Updates of Firefox, add-ons, system add-ons and media plugins.
	{"app.update.auto", false, srcPlaywright, ""},
	{"app.update.enabled", false, srcPlaywright, ""},
	{"app.update.disabledForTesting", true, srcRemoteAgent, ""},
	{"app.update.checkInstallTime", false, srcTestProfile, ""},
	{"extensions.update.enabled", false, srcRemoteAgent, ""},
	{"extensions.systemAddon.update.enabled", false, srcRemoteAgent,
		"GET https://aus5.mozilla.org/update/3/SystemAddons/... about 30 s after start"},
	{"extensions.getAddons.cache.enabled", false, srcRemoteAgent, ""},
	{"extensions.getAddons.discovery.api_url", "data:, ", srcRemoteAgent, ""},
	{"extensions.blocklist.enabled", false, srcPlaywright, ""},
	{"media.gmp-manager.updateEnabled", false, srcTestProfile,
		"GET https://update.googleapis.com/service/update2/crx?... (the Widevine plugin) about 15 s after start"},
	{"media.gmp-manager.url", "", srcFirefox, ""},
	{"browser.search.update", false, srcRemoteAgent, ""},
	{"general.useragent.updates.enabled", false, srcRemoteAgent, ""},

	// Telemetry, Glean, studies (Normandy, Shield).
	{"datareporting.healthreport.uploadEnabled", false, srcRemoteAgent, ""},
	{"datareporting.policy.dataSubmissionEnabled", false, srcRemoteAgent, ""},
	{"datareporting.policy.dataSubmissionPolicyBypassNotification", true, srcRemoteAgent, ""},
	{"datareporting.usage.uploadEnabled", false, srcFirefox, ""},
	{"toolkit.telemetry.enabled", false, srcPlaywright, ""},
	{"toolkit.telemetry.unified", false, srcFirefox, ""},
	{"toolkit.telemetry.reportingpolicy.firstRun", false, srcFirefox, ""},
	// A port Firefox refuses to connect to (it bans port 1), as
	// Chromium's --gaia-url; the lists use a dummy test server.
	{"toolkit.telemetry.server", "http://127.0.0.1:1", srcRemoteAgent, ""},
	{"telemetry.fog.test.localhost_port", -1, srcTestProfile, ""},
	{"browser.ping-centre.telemetry", false, srcFirefox, ""},
	{"browser.newtabpage.activity-stream.feeds.telemetry", false, srcFirefox, ""},
	{"browser.newtabpage.activity-stream.telemetry", false, srcFirefox, ""},
	{"app.normandy.enabled", false, srcPlaywright, ""},
	{"app.normandy.api_url", "", srcRemoteAgent, ""},
	{"app.shield.optoutstudies.enabled", false, srcFirefox, ""},

	// Remote settings read nothing (release builds honour the server
	// only with MOZ_REMOTE_SETTINGS_DEVTOOLS=1, which Launch sets);
	// certificate lists that come from them stay off.
	{"services.settings.server", "data:,#remote-settings-dummy/v1", srcRemoteAgent, ""},
	{"security.remote_settings.intermediates.enabled", false, srcRemoteAgent, ""},
	{"security.remote_settings.crlite_filters.enabled", false, srcFirefox, ""},

	// Network probes, DNS over HTTPS, OCSP, prefetching.
	{"network.captive-portal-service.enabled", false, srcPlaywright, ""},
	{"captivedetect.canonicalURL", "", srcPlaywright, ""},
	{"network.connectivity-service.enabled", false, srcRemoteAgent, ""},
	{"network.trr.mode", 5, srcTRRDocs, ""},
	{"network.sntp.pools", "", srcPlaywright, ""},
	{"security.certerrors.mitm.priming.enabled", false, srcRemoteAgent, ""},
	{"security.OCSP.enabled", 0, srcFirefox, ""},
	{"network.dns.disablePrefetch", true, srcFirefox, ""},
	{"network.prefetch-next", false, srcFirefox, ""},
	{"network.http.speculative-parallel-limit", 0, srcPuppeteer, ""},

	// Location, region, accounts, push.
	{"geo.provider.network.url", "", srcRemoteAgent, ""},
	{"geo.wifi.scan", false, srcRemoteAgent, ""},
	{"browser.region.network.url", "", srcRemoteAgent, ""},
	{"browser.region.update.enabled", false, srcFirefox, ""},
	{"identity.fxaccounts.enabled", false, srcFirefox, ""},
	{"dom.push.connection.enabled", false, srcRemoteAgent, ""},
	{"dom.push.serverURL", "", srcPlaywright, ""},
	{"dom.push.enabled", false, srcFirefox, ""},

	// Safe browsing lists and lookups.
	{"browser.safebrowsing.blockedURIs.enabled", false, srcRemoteAgent, ""},
	{"browser.safebrowsing.downloads.enabled", false, srcRemoteAgent, ""},
	{"browser.safebrowsing.malware.enabled", false, srcRemoteAgent, ""},
	{"browser.safebrowsing.phishing.enabled", false, srcRemoteAgent, ""},
	{"browser.safebrowsing.passwords.enabled", false, srcPlaywright, ""},
	{"browser.safebrowsing.downloads.remote.enabled", false, srcFirefox, ""},
	{"browser.safebrowsing.provider.mozilla.updateURL", "", srcPlaywright, ""},
	{"browser.safebrowsing.provider.google4.updateURL", "", srcFirefox, ""},

	// New tab content, suggestions, messaging, translations.
	{"browser.newtabpage.enabled", false, srcRemoteAgent, ""},
	{"browser.topsites.contile.enabled", false, srcRemoteAgent, ""},
	{"browser.newtabpage.activity-stream.showSponsoredTopSites", false, srcRemoteAgent, ""},
	{"browser.newtabpage.activity-stream.feeds.system.topstories", false, srcTestProfile, ""},
	{"browser.newtabpage.activity-stream.feeds.section.topstories", false, srcPlaywright, ""},
	{"browser.newtabpage.activity-stream.discoverystream.region-weather-config", "", srcRemoteAgent, ""},
	{"browser.newtabpage.activity-stream.newtabWallpapers.enabled", false, srcRemoteAgent, ""},
	{"browser.newtabpage.activity-stream.newtabWallpapers.v2.enabled", false, srcRemoteAgent, ""},
	{"browser.newtabpage.activity-stream.tippyTop.service.endpoint", "", srcTestProfile, ""},
	{"browser.newtabpage.activity-stream.fxaccounts.endpoint", "", srcTestProfile, ""},
	{"browser.newtabpage.activity-stream.asrouter.providers.cfr", "null", srcTestProfile, ""},
	{"browser.newtabpage.activity-stream.asrouter.providers.message-groups", "null", srcTestProfile, ""},
	{"browser.newtabpage.activity-stream.asrouter.providers.messaging-experiments", "null", srcTestProfile, ""},
	{"browser.pagethumbnails.capturing_disabled", true, srcRemoteAgent, ""},
	{"browser.urlbar.suggest.searches", false, srcRemoteAgent, ""},
	{"browser.urlbar.merino.endpointURL", "", srcRemoteAgent, ""},
	{"browser.translations.enable", false, srcPlaywright, ""},
	{"browser.uitour.enabled", false, srcPuppeteer, ""},
	// Daily idle tasks (maintenance that may fetch) do not run.
	{"idle.lastDailyNotification", -1, srcTestProfile, ""},

	// First-run pages and prompts; the password manager off, as in the
	// Chromium profile.
	{"browser.aboutwelcome.enabled", false, srcFirefox, ""},
	{"trailhead.firstrun.didSeeAboutWelcome", true, srcFirefox, ""},
	{"startup.homepage_welcome_url", "about:blank", srcRemoteAgent, ""},
	{"startup.homepage_welcome_url.additional", "", srcRemoteAgent, ""},
	{"browser.startup.homepage_override.mstone", "ignore", srcRemoteAgent, ""},
	{"browser.shell.checkDefaultBrowser", false, srcRemoteAgent, ""},
	{"signon.rememberSignons", false, srcRemoteAgent, ""},
}
