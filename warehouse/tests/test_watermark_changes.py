"""A remote warehouse's watermark after changes made outside a load (DSAR, retention, results):
new at every change, counting them, of bounded length."""

from warehouse.watermark import changed_version


def test_every_change_is_a_new_version_that_counts_the_changes():
    versions = ["load-7"]
    for _ in range(500):
        versions.append(changed_version(versions[-1], "retention-2026-02-01"))
    assert len(set(versions)) == len(versions)  # the same tag twice still moves it
    assert versions[1].startswith("load-7+1.") and versions[-1].startswith("load-7+500.")
    assert len(versions[-1]) == len(versions[1]) + 2  # only the count grows


def test_a_new_load_starts_counting_again():
    changed = changed_version(changed_version("load-7", "dsar1"), "dsar2")
    assert changed.startswith("load-7+2.")
    assert changed_version("load-8", "dsar3").startswith("load-8+1.")
