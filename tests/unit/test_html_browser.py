"""The HTML report in a real browser (headless Chromium, Selenium), from runs made with
no Docker (``html_runs``): it loads offline with no console error, shows every
execution of the report, opens a failed execution's traceback at a click, and shows a
step's hostile text as text. ``tests/integration/test_html_in_ee`` opens one of a real
run."""

from __future__ import annotations

import pytest
from html_runs import FAILING, HOSTILE, TRACEBACK, big_run, fake_check, fake_run, retried_run
from selenium.webdriver.common.by import By

from pdee.outputs.html import write_html

pytestmark = pytest.mark.browser

MARKS = """return document.getElementById('timeline').data
    .filter(t => t.customdata).reduce((n, t) => n + t.customdata.length, 0)"""


def rows(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#executions tbody tr")


def test_a_run_s_page_shows_every_execution_and_a_traceback_at_a_click(browser, tmp_path):
    event = {"warm_status": "error", "error": FAILING["error"], "returns": HOSTILE,
             "leaves": ["/tmp/out.csv", HOSTILE]}  # fmt: skip
    result = fake_run(tmp_path, event=event)
    write_html(tmp_path / "report.html", result)
    assert browser.open(tmp_path / "report.html") == []
    driver = browser.driver
    count = driver.find_element(By.ID, "exec-count")
    assert count.get_attribute("data-total") == "12" and count.text.startswith("12 executions")
    assert len(rows(driver)) == 12 and driver.execute_script(MARKS) == 12
    assert len(driver.find_elements(By.CSS_SELECTOR, "#ees tbody tr")) == len(result.ees)
    assert driver.find_element(By.ID, "replay").text.endswith("--seed 7")
    details = driver.find_element(By.ID, "details")
    assert not details.is_displayed()
    failed = next(e for e in result.executions if e.status == "error")
    driver.find_element(By.CSS_SELECTOR, f'tr.failed[data-index="{failed.index}"]').click()
    assert details.is_displayed()
    traceback = details.find_element(By.CSS_SELECTOR, "pre.traceback")
    assert traceback.is_displayed() and traceback.text == TRACEBACK
    assert "ValueError: bad row <b>not bold</b>" in details.text  # as text, not bold
    assert details.find_elements(By.TAG_NAME, "b") == []
    leftovers = [li.text for li in details.find_elements(By.CSS_SELECTOR, "ul.files li")]
    assert leftovers[0] == "/tmp/out.csv"  # and the hostile name, as text:
    assert leftovers[1].startswith("</script><script>window.pwned = 1</script><!-- <img src=x")
    assert driver.execute_script("return window.pwned") is None
    # The status filter: the failed executions alone.
    driver.find_element(By.CSS_SELECTOR, "#status-filter option[value='failed']").click()
    assert len(rows(driver)) == sum(not e.passed for e in result.executions)


def test_a_check_s_page_shows_verdicts_with_advice_and_links_to_the_execution(browser, tmp_path):
    write_html(tmp_path / "check.html", fake_check(tmp_path))
    assert browser.open(tmp_path / "check.html") == []
    driver = browser.driver
    verdicts = driver.find_elements(By.CSS_SELECTOR, "tr.verdict")
    assert len(verdicts) == 7
    warm = driver.find_element(By.CSS_SELECTOR, "tr.verdict.fail")
    assert "depends on what an earlier execution left" in warm.text
    warm.find_element(By.CSS_SELECTOR, "button.link").click()
    details = driver.find_element(By.ID, "details")
    assert details.is_displayed() and "error, warm" in details.text
    assert details.find_element(By.CSS_SELECTOR, "pre.traceback").text == TRACEBACK
    tabs = driver.find_elements(By.CSS_SELECTOR, "#runs .tab")
    assert [t.text for t in tabs] == ["warm run", "chaos run"]
    tabs[1].click()
    assert "chaos run" in driver.find_element(By.CSS_SELECTOR, "#runs .tab.active").text


def test_ten_thousand_executions_load_a_page_at_a_time(browser, tmp_path):
    write_html(tmp_path / "big.html", big_run(10_000))
    assert browser.open(tmp_path / "big.html") == []
    driver = browser.driver
    count = driver.find_element(By.ID, "exec-count")
    assert count.get_attribute("data-total") == "10000"
    assert driver.execute_script(MARKS) == 10_000
    assert len(rows(driver)) == 100  # a page of the table; details only when opened
    assert driver.find_elements(By.CSS_SELECTOR, "#details pre") == []
    driver.find_element(By.CSS_SELECTOR, "#exec-pager button:last-child").click()
    driver.find_element(By.CSS_SELECTOR, 'tr.failed[data-index="109"]').click()
    assert driver.find_element(By.CSS_SELECTOR, "#details pre.traceback").text == TRACEBACK
    assert "Debian's Python" in driver.find_element(By.ID, "python-note").text


TRACES = """return document.getElementById('timeline').data.filter(t => t.customdata)
    .map(t => [t.name, t.customdata, t.x, t.y])"""


def test_a_retried_failure_is_judged_by_its_retry_and_a_dropped_execution_is_drawn(
    browser, tmp_path
):
    result = retried_run()
    write_html(tmp_path / "retried.html", result)
    assert browser.open(tmp_path / "retried.html") == []
    driver = browser.driver
    traces = {name: (data, x, y) for name, data, x, y in driver.execute_script(TRACES)}
    # #0 failed and its retry #1 passed: orange, not red; #4 failed (its retry to come).
    assert traces["cold retried"][0] == [0] and traces["warm failed"][0] == [4]
    assert "cold failed" not in traces and traces["warm ok"][0] == [1, 3]
    # #2, dropped from a full queue, at its arrival on a row of its own.
    data, x, y = traces["dropped"]
    assert data == [2] and x == [7.0]
    ticks = driver.execute_script("return document.getElementById('timeline').layout.yaxis")
    assert ticks["ticktext"][y[0]] == "dropped"
    assert driver.execute_script(MARKS) == len(result.executions)
    summary = driver.find_element(By.ID, "summary").text
    assert "2 ok, 2 failed (1 dropped from a full queue), 1 retried (1 execution" in summary
    # The table: the attempt after the status, the flow as the terminal gives it.
    heads = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#executions thead th")]
    assert heads[3:5] == ["status", "attempt"]
    cells = [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows(driver)]
    assert [row[4] for row in cells] == ["1 → retried", "2", "1", "1", "1"]
    assert cells[1][-1] == "retry 1 of #0 (part 2)"
    assert [row.get_attribute("class") for row in rows(driver)] == [
        "execution retried", "execution passed", "execution failed", "execution passed",
        "execution failed",
    ]  # fmt: skip
    driver.find_element(By.CSS_SELECTOR, "#status-filter option[value='failed']").click()
    shown = [int(row.get_attribute("data-index")) for row in rows(driver)]
    assert shown == [e.index for e in result.executions if e.failed] == [2, 4]
    driver.find_element(By.CSS_SELECTOR, "#status-filter option[value='retried']").click()
    assert [row.get_attribute("data-index") for row in rows(driver)] == ["0"]
    rows(driver)[0].click()
    details = driver.find_element(By.ID, "details")
    assert "retry\nattempt 1 of step failed: retry → #1" in details.text
