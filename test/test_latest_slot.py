import threading

from gc_perception.latest_slot import LatestSlot


def test_only_the_newest_item_is_taken_and_replacements_are_counted():
    slot = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.put(3) is True
    assert slot.take(0.1) == 3
    assert slot.dropped == 2
    assert slot.take(0.01) is None


def test_take_wakes_on_put_and_on_close():
    slot = LatestSlot()
    taken = []
    worker = threading.Thread(target=lambda: taken.append(slot.take(5.0)))
    worker.start()
    slot.put("frame")
    worker.join(5.0)
    assert taken == ["frame"]
    closer = threading.Thread(target=lambda: taken.append(slot.take(5.0)))
    closer.start()
    slot.close()
    closer.join(5.0)
    assert taken == ["frame", None] and not closer.is_alive()
