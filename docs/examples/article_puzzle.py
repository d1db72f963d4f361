"""The article's event-loop puzzle in asyncio form: it prints 1, 7, 3, 4, 2, 5, 6.

The JavaScript original::

    console.log(1);
    setTimeout(() => console.log(2), 0);
    Promise.resolve().then(() => console.log(3));
    Promise.resolve().then(() => { console.log(4); setTimeout(() => console.log(6), 0); });
    setTimeout(() => console.log(5), 0);
    console.log(7);

``call_soon`` stands in for ``Promise.then`` and ``call_later(0)`` for ``setTimeout(0)``. The
order is the same, for another reason: asyncio has no microtask queue. The ``call_later(0)``
timers come due in the next loop turn and join the ready queue *behind* the two ``call_soon``
callbacks that were already there; ``6`` is set while that turn runs, so it waits for the next.

Replay it: ``asyncio-lab replay --script docs/examples/article_puzzle.py``
"""

import asyncio


async def main() -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def print_6() -> None:
        print(6)
        done.set_result(None)

    def print_4_then_time_6() -> None:
        print(4)
        loop.call_later(0, print_6)

    print(1)
    loop.call_later(0, print, 2)
    loop.call_soon(print, 3)
    loop.call_soon(print_4_then_time_6)
    loop.call_later(0, print, 5)
    print(7)
    await done


if __name__ == "__main__":
    asyncio.run(main())
