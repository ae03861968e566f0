#!/usr/bin/python3
"""web_scenario.py - the web UI in Debian's Chromium (chromium-driver,
python3-selenium), run by tests/browser/test_browser.c against a real node.

Environment (set by the Criterion test): KOOP_WEB_URL, KOOP_WEB_SCREENSHOTS,
KOOP_WEB_AXE (axe.min.js of axe-core, installed by make test into build/npm),
KOOP_WEB_USERS ({"sw": [login, password], "cop": [...], "coord": [...]}),
KOOP_WEB_FAMILY, KOOP_WEB_COP, KOOP_WEB_SW (names in the registry).

Every main page is saved as a screenshot and checked by axe-core with the
WCAG 2.1 A and AA rules: a violation of impact serious or critical fails.
The logins and "Moje zadania" are used with the keyboard alone. Exits 0
when everything holds, else 1 with what did not.
"""
import datetime
import json
import os
import re
import shutil
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ["KOOP_WEB_URL"]
SHOTS = os.environ["KOOP_WEB_SCREENSHOTS"]
AXE = open(os.environ["KOOP_WEB_AXE"], encoding="utf-8").read()
USERS = json.loads(os.environ["KOOP_WEB_USERS"])
FAMILY = os.environ["KOOP_WEB_FAMILY"]
COP = os.environ["KOOP_WEB_COP"]
SW = os.environ["KOOP_WEB_SW"]
TODAY = datetime.date.today().isoformat()
# the report groups' titles as common/labels.def declares them (the UI's
# catalogue of them is made from it by make): {group: (polski, English)}
LABELS_DEF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common", "labels.def")
GROUPS = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
    r'^KOOP_VALUE\("indicator\.group", "([^"]+)", "([^"]+)", "([^"]+)"\)', open(LABELS_DEF, encoding="utf-8").read(), re.M)}
# the timeline's words, labels.def's set "event" (lower case, as koopctl
# prints them; the UI writes the first letter capital): {type: (polski, English)}
EVENTS = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
    r'^KOOP_VALUE\("event", "([^"]+)", "([^"]+)", "([^"]+)"\)', open(LABELS_DEF, encoding="utf-8").read(), re.M)}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--lang=pl", "--window-size=1280,900"]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

failures = []
axe_report = []


def say(msg):
    print(msg, flush=True)


def capital(word):
    return word[:1].upper() + word[1:]


def check_timeline(b, en):
    """The timeline says labels.def's words, the first letter capital: the
    programme opened and started (ipw.activated), the goal rated."""
    lang = "English" if en else "Polish"
    want = [capital(EVENTS[k][en]) for k in ("ipw.opened", "ipw.activated", "goal.scaled")]
    try:
        WebDriverWait(b.d, 15, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: all(w in b.timeline_words() for w in want))
    except TimeoutException:
        pass
    words = b.timeline_words()
    say(f"the timeline in {lang}: {words}")
    check(all(w in words for w in want), f"the timeline in {lang} has labels.def's words {want}: {words}")
    known = {capital(v[en]) for v in EVENTS.values()}
    check(words and all(w in known for w in words), f"every word of the timeline in {lang} is labels.def's: {words}")


def check(cond, what):
    if not cond:
        failures.append(what)
        say(f"FAIL: {what}")
    return cond


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="koop-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for f in FLAGS + [f"--user-data-dir={self.profile}"]:
            opts.add_argument(f)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        opts.add_experimental_option("prefs", {"intl.accept_languages": "pl-PL,pl"})
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        self.d.set_page_load_timeout(30)
        self.wait = WebDriverWait(self.d, 15)

    def quit(self):
        try:
            self.d.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # ---- finding things ----
    def h1(self, text, timeout=15):
        # the page may be drawn again while it is read: a stale heading is not yet the one
        WebDriverWait(self.d, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: any(text in e.text for e in d.find_elements(By.CSS_SELECTOR, "main h1")))

    def css(self, sel, timeout=15):
        return WebDriverWait(self.d, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, sel)))

    def text_in(self, sel, text, timeout=15):
        try:
            WebDriverWait(self.d, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: text in d.find_element(By.CSS_SELECTOR, sel).text)
            return True
        except TimeoutException:
            return False

    def main_text(self):
        return self.d.find_element(By.ID, "main").text

    def go(self, hash_):
        self.d.execute_script("window.location.hash = arguments[0]", hash_)

    def nav(self, path):
        self.d.find_element(By.ID, f"nav-{path}").click()

    def idle(self):
        """Waits until the page's requests are answered (no 'Ładowanie…')."""
        time.sleep(0.3)
        WebDriverWait(self.d, 15).until(lambda d: d.execute_script(
            "const p = document.querySelector('main > p');"
            " return document.readyState === 'complete' && (!p || !/^(Ładowanie|Loading)/.test(p.textContent));"))

    def active(self):
        return self.d.switch_to.active_element

    def shot(self, path):
        """The whole page, not only the window: the window grows to the page's height for it."""
        w, h = self.d.get_window_size()["width"], self.d.get_window_size()["height"]
        full = self.d.execute_script("return document.documentElement.scrollHeight")
        if full > h:
            self.d.set_window_size(w, min(full + 120, 8000))
            time.sleep(0.2)
        self.d.save_screenshot(path)
        if full > h:
            self.d.set_window_size(w, h)

    # ---- the checks of every main page ----
    def page(self, name):
        self.idle()
        path = os.path.join(SHOTS, f"{name}.png")
        self.shot(path)
        self.d.execute_script(AXE)
        res = self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))))"
            ".catch(e => done({error: String(e)}));", AXE_TAGS)
        if isinstance(res, dict):
            check(False, f"{name}: axe-core did not run: {res.get('error')}")
            return
        bad = [v for v in res if v["impact"] in ("serious", "critical")]
        for v in res:
            axe_report.append({"page": name, **v})
            say(f"  axe {name}: {v['impact']} {v['id']} ({v['help']}) {v['nodes']}")
        check(not bad, f"{name}: axe-core finds serious/critical violations: {[v['id'] for v in bad]}")
        # script errors fail; an API refusal the page shows (4xx: not logged
        # in yet, a refused form) is the browser noting a status, not an error
        logs = [e for e in self.d.get_log("browser") if e.get("level") == "SEVERE"
                and "the server responded with a status of 4" not in e.get("message", "")]
        check(not logs, f"{name}: errors in the browser console: {[e.get('message') for e in logs]}")
        # no horizontal scrolling on the page as it is (tables stack on phones)
        over = self.d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        check(over <= 1, f"{name}: the page scrolls sideways by {over} px")
        say(f"page {name}: screenshot {path}, axe: {len(res)} finding(s), none serious")

    # ---- keyboard ----
    def tab_to(self, match, limit=60, shift=False):
        """Presses Tab until the focused element satisfies match(el); returns it."""
        for _ in range(limit):
            el = self.active()
            if match(el):
                return el
            el.send_keys(Keys.SHIFT, Keys.TAB) if shift else el.send_keys(Keys.TAB)
        raise AssertionError("Tab never reached the element")

    def focus_visible(self, el):
        style = self.d.execute_script(
            "const s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth];", el)
        return style[0] != "none" and style[1] not in ("0px", "")

    def login_keyboard(self, who):
        """Logs in with the keyboard alone: the page opens with the focus in
        the login field; Shift+Tab back to the skip link, Enter on it moves
        the focus to the content; Tab to the login, type, Tab, type, Enter."""
        login, password = USERS[who]
        self.d.get(BASE + "/")
        self.css("#login-login")
        WebDriverWait(self.d, 10).until(lambda d: d.switch_to.active_element.get_attribute("id") == "login-login")
        skip = self.tab_to(lambda e: e.get_attribute("id") == "skip-link", shift=True)
        check(self.focus_visible(skip), f"{who}: the focused skip link has a visible outline")
        check(skip.is_displayed() and skip.location["y"] >= 0, f"{who}: the skip link shows when focused")
        skip.send_keys(Keys.ENTER)
        check(self.active().get_attribute("id") == "main", f"{who}: the skip link moves the focus to the content")
        self.active().send_keys(Keys.TAB)
        el = self.tab_to(lambda e: e.get_attribute("id") == "login-login")
        check(self.focus_visible(el), f"{who}: the focused login field has a visible outline")
        el.send_keys(login)
        el.send_keys(Keys.TAB)
        pw = self.active()
        check(pw.get_attribute("id") == "login-password", f"{who}: Tab from the login goes to the password")
        pw.send_keys(password)
        pw.send_keys(Keys.ENTER)
        self.h1("Moje zadania")
        self.idle()

    def logout(self):
        self.d.find_element(By.ID, "logout").click()
        self.css("#login-login")

    def submit(self, form_id):
        self.d.find_element(By.CSS_SELECTOR, f"#{form_id} button[type=submit]").click()

    def open_details(self, form_id):
        f = self.d.find_element(By.ID, form_id)
        det = f.find_element(By.XPATH, "./ancestor::details")
        if not det.get_attribute("open"):
            det.find_element(By.TAG_NAME, "summary").click()

    def select_text(self, sel_id, text):
        s = Select(self.d.find_element(By.ID, sel_id))
        for o in s.options:
            if text in o.text:
                s.select_by_visible_text(o.text)
                return
        raise AssertionError(f"no option '{text}' in #{sel_id}")

    def fill(self, el_id, value):
        el = self.d.find_element(By.ID, el_id)
        el.clear()
        el.send_keys(value)

    def group_titles(self):
        """The report's group titles as shown: {group: caption}."""
        return {e.get_attribute("data-group"): e.find_element(By.TAG_NAME, "caption").text
                for e in self.d.find_elements(By.CSS_SELECTOR, "#report-results section.report-group")}

    def timeline_words(self):
        """The timeline's event words as shown, in its order."""
        return [e.text for e in self.d.find_elements(By.CSS_SELECTOR, "#timeline + table tbody td strong")]

    def figure(self, key):
        cells = self.d.find_elements(By.CSS_SELECTOR, f"tr[data-key='{key}'] td.num")
        return cells[0].text if cells else None


def scenario(b):
    # ---- the coordinator reads the report before ----
    b.d.get(BASE + "/")
    b.css("#login-login")
    # axe-core itself finds a fault put in on purpose (an image without text)
    b.d.execute_script(AXE)
    found = b.d.execute_async_script(
        "const done = arguments[arguments.length - 1]; const i = document.createElement('img');"
        " i.src = 'favicon.svg'; document.getElementById('main').appendChild(i);"
        " axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => { i.remove(); done(r.violations.map(v => v.id)); });", AXE_TAGS)
    check("image-alt" in found, f"axe-core reports an image without alt text (it found {found})")
    b.page("01-login")
    b.login_keyboard("coord")
    b.nav("raporty")
    b.h1("Raporty")
    b.css("tr[data-key='tasks_on_time']")
    before = b.figure("tasks_on_time")
    say(f"report before: tasks done on time = {before}")
    titles = b.group_titles()
    check(len(titles) > 3 and all(GROUPS.get(g, ("?",))[0] == t for g, t in titles.items()),
          f"the report groups' titles are labels.def's: {titles}")
    b.page("10-reports")
    b.logout()

    # ---- the social worker: find the family, open an IPW, build the team ----
    b.login_keyboard("sw")
    b.page("02-tasks-social-worker")
    b.nav("rodziny")
    b.h1("Rodziny i IPW")
    b.fill("household-search-text", "BRZĘCZY")  # a part of the name, in capitals
    b.submit("household-search")
    check(b.text_in("#household-results", FAMILY), "the search by a part of the name finds the family")
    b.page("03-families")
    b.d.find_element(By.LINK_TEXT, FAMILY).click()
    b.h1(FAMILY)
    b.page("04-household")
    # an IPW opens only on a consent (or another legal basis) on record
    b.open_details("consent-add")
    b.fill("consent-add-purpose", "Zgoda na współpracę w ZZK")
    b.select_text("consent-add-share_with", "GOPS")
    b.select_text("consent-add-share_with", "KPP")
    b.fill("consent-add-date", TODAY)
    b.submit("consent-add")
    WebDriverWait(b.d, 10).until(lambda d: "Brak zgód" not in d.find_element(By.TAG_NAME, "main").text)
    b.open_details("ipw-open")
    b.select_text("ipw-open-coordinator", SW)
    b.fill("ipw-open-opened", TODAY)
    b.submit("ipw-open")
    b.h1("Program IPW")
    ipw_url = b.d.current_url
    number = b.d.find_element(By.CSS_SELECTOR, "main h1").text.split()[2]
    say(f"IPW {number} opened at {ipw_url}")

    b.open_details("zzk-add")
    b.select_text("zzk-add-person", COP)
    b.submit("zzk-add")
    check(b.text_in("#zzk + table", COP), "the police officer is in the ZZK")

    # a wrong value: the message next to the field, nothing saved
    b.open_details("goal-add")
    Select(b.d.find_element(By.ID, "goal-add-area")).select_by_value("work")
    b.fill("goal-add-baseline", "11")
    b.fill("goal-add-target", "8")
    b.fill("goal-add-description", "Podjęcie stałej pracy")
    b.submit("goal-add")
    check(b.text_in("#goal-add-baseline-err", " ", 10), "a PSR value of 11 is refused next to its field")
    base = b.d.find_element(By.ID, "goal-add-baseline")
    check(base.get_attribute("aria-invalid") == "true", "the refused field is aria-invalid")
    check(b.active().get_attribute("id") == "goal-add-baseline", "the refused field has the focus")
    check(base.get_attribute("id") + "-err" in (base.get_attribute("aria-describedby") or ""),
          "the field's message is tied to it (aria-describedby)")
    say(f"refusal shown: {b.d.find_element(By.ID, 'goal-add-baseline-err').text}")
    b.d.save_screenshot(os.path.join(SHOTS, "05-ipw-field-error.png"))
    check("Podjęcie stałej pracy" not in b.d.find_element(By.ID, "goals").find_element(By.XPATH, "following-sibling::*[1]").text,
          "nothing was saved by the refused form")
    b.fill("goal-add-baseline", "3")
    b.submit("goal-add")
    check(b.text_in("main", "praca: Podjęcie stałej pracy"), "the goal is listed")
    b.open_details("goal-scale-0")
    b.fill("goal-scale-0-value", "5")
    b.fill("goal-scale-0-date", TODAY)
    b.submit("goal-scale-0")
    WebDriverWait(b.d, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg.chart circle.point")) == 2)
    check(len(b.d.find_elements(By.CSS_SELECTOR, "svg.chart polyline.line")) == 1, "the PSR chart draws the ratings over time")

    b.open_details("task-add")
    b.select_text("task-add-owner", COP)
    b.select_text("task-add-goal", "Podjęcie stałej pracy")
    b.fill("task-add-due", TODAY)
    b.fill("task-add-title", "Wizyta dzielnicowego")
    b.submit("task-add")
    check(b.text_in("#tasks + table", "Wizyta dzielnicowego"), "the task is listed in the IPW")
    # the programme signed: its timeline in labels.def's words
    b.open_details(b.css("form[data-method='ipw.activate']").get_attribute("id"))
    b.fill(b.css("form[data-method='ipw.activate'] input[name=date]").get_attribute("id"), TODAY)
    b.d.find_element(By.CSS_SELECTOR, "form[data-method='ipw.activate'] button[type=submit]").click()
    check(b.text_in("main h1 .tag", "realizowany"), "the activated programme is realizowany")
    check_timeline(b, 0)
    b.page("05-ipw")
    b.logout()

    # ---- the police officer: the task, its notification, done with the keyboard ----
    b.login_keyboard("cop")
    check(b.text_in("main", "Wizyta dzielnicowego"), "the police officer sees the task in Moje zadania")
    check(number in b.main_text(), "the task shows the case number")
    check(FAMILY not in b.d.find_element(By.TAG_NAME, "body").text, "the family's name is not on the partner's task list")
    try:
        WebDriverWait(b.d, 10).until(lambda d: d.find_element(By.ID, "badge-tasks").is_displayed())
        check("1" in b.d.find_element(By.ID, "badge-tasks").text, "the badge counts one open task")
    except TimeoutException:
        check(False, "the task count badge is shown")
    b.page("06-tasks-police")
    for _ in range(30):  # the notifier applies the cases feed on its own time
        b.nav("powiadomienia")
        b.h1("Powiadomienia")
        b.idle()
        if "Nieprzeczytanych: 0" not in b.main_text():
            break
        time.sleep(1)
        b.nav("zadania")
        b.h1("Moje zadania")
    check("Nieprzeczytanych: 0" not in b.main_text(), "the police officer has an unread notification")
    check(number in b.main_text(), "the notification names the case number")
    b.page("07-inbox")
    b.nav("zadania")
    b.h1("Moje zadania")
    b.idle()
    b.d.execute_script("document.activeElement.blur()")
    b.d.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    done = b.tab_to(lambda e: e.tag_name == "button" and "Zakończ" in e.text and "Wizyta dzielnicowego" in e.get_attribute("textContent"))
    check(b.focus_visible(done), "the focused button has a visible outline")
    done.send_keys(Keys.ENTER)
    check(b.text_in("main", "Otwartych zadań: 0"), "after Enter the task is no longer open")
    b.d.set_window_size(390, 844)  # a phone
    b.idle()
    b.page("08-tasks-phone")
    b.d.set_window_size(640, 900)  # 1280 px at 200 % zoom
    b.page("09-tasks-zoom-200")
    b.d.set_window_size(1280, 900)
    b.logout()

    # ---- the coordinator: the task done, the report changed ----
    b.login_keyboard("coord")
    b.d.get(ipw_url)
    b.h1("Program IPW")
    b.idle()
    check(b.text_in("#tasks + table", "wykonane"), "the coordinator sees the task done")
    after = before
    for _ in range(30):
        b.nav("raporty")
        b.h1("Raporty")
        b.css("tr[data-key='tasks_on_time']")
        after = b.figure("tasks_on_time")
        if after != before:
            break
        time.sleep(1)
        b.nav("zadania")
        b.h1("Moje zadania")
    say(f"report after: tasks done on time = {after}")
    check(after != before and after == "1", f"the report changes: tasks done on time {before} -> {after}")
    csv = b.d.find_element(By.ID, "csv-indicators").get_attribute("href")
    check("format=csv" in csv, "the report links its CSV")
    b.nav("uslugi")
    b.h1("Lista aktywności i usług")
    b.page("11-services")
    b.nav("rejestr")
    b.h1("Rejestr")
    b.page("12-registry")
    b.d.get(ipw_url.replace("#/ipw/", "#/druk/"))
    b.h1("Indywidualny Program Współpracy")
    b.page("13-ipw-print")
    b.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    check(b.d.find_element(By.CSS_SELECTOR, ".signatures").is_displayed(), "the printed IPW has signature lines")
    check(not b.d.find_element(By.ID, "nav").is_displayed(), "the printed IPW has no menu")
    b.d.save_screenshot(os.path.join(SHOTS, "14-ipw-printed.png"))
    b.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    # English
    b.d.find_element(By.CSS_SELECTOR, "#lang-switch button[lang=en]").click()
    b.go("#/zadania")
    b.h1("My tasks")
    check(b.d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en", "html lang follows the language switch")
    check("lang=en" in b.d.execute_script("return document.cookie"), "the switch sets the lang cookie")
    b.page("15-tasks-english")
    # the report in English: labels.def's titles, the evaluation in English words
    b.nav("raporty")
    b.h1("Reports")
    b.css("tr[data-key='tasks_on_time']")
    titles = b.group_titles()
    check(len(titles) > 3 and all(GROUPS.get(g, ("?", "?"))[1] == t for g, t in titles.items()),
          f"the report groups' titles in English are labels.def's: {titles}")
    summary = b.css("#evaluation-summary").text
    check(" in PZKs" in summary and " w PZK" not in summary, f"the evaluation's summary in English: {summary}")
    b.page("16-reports-english")
    b.d.get(ipw_url)
    b.h1("IPW programme")
    b.idle()
    check_timeline(b, 1)
    b.page("17-ipw-english")
    b.go("#/zadania")
    b.h1("My tasks")
    b.d.find_element(By.CSS_SELECTOR, "#lang-switch button[lang=pl]").click()
    b.h1("Moje zadania")
    b.logout()


def main():
    os.makedirs(SHOTS, exist_ok=True)
    b = Browser()
    try:
        scenario(b)
    except Exception as e:  # a step that could not be done is a failure with its page
        failures.append(f"{type(e).__name__}: {e}")
        say(f"FAIL: {type(e).__name__}: {e}")
        try:
            b.d.save_screenshot(os.path.join(SHOTS, "failure.png"))
            say(f"at {b.d.current_url}; screenshot failure.png; page text:\n{b.main_text()[:2000]}")
        except Exception:
            pass
    finally:
        b.quit()
    with open(os.path.join(SHOTS, "axe.json"), "w", encoding="utf-8") as f:
        json.dump(axe_report, f, ensure_ascii=False, indent=1)
    if failures:
        say(f"{len(failures)} check(s) failed")
        return 1
    say("browser scenario: every check holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
