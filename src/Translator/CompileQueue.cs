using System;
using System.Collections.Generic;
using System.Threading;

namespace Emu.Translator;

/// <summary>
/// The work waiting for the compile thread, hottest first: the item whose heat (for a region,
/// how often its first block has run interpreted since it was queued) is highest, and among
/// equals the newest. Under an operating system's boot the compile thread falls far behind;
/// the code running now, and running most, should not wait behind code of a phase that is
/// over. Heat is read when an item is taken, so an item queued long ago that is still running
/// cold gets ahead of newer ones that ran once.
/// </summary>
public sealed class CompileQueue<T> where T : class
{
    private readonly List<T> pending = new();
    private readonly Func<T, int> heat;
    private bool closed;

    public CompileQueue(Func<T, int> heat) => this.heat = heat;

    public void Add(T item)
    {
        lock (pending)
        {
            pending.Add(item);
            Monitor.Pulse(pending);
        }
    }

    /// <summary>The hottest item, waiting for one; null once <see cref="Close"/> was called and nothing is left.</summary>
    public T? Take()
    {
        lock (pending)
        {
            while (pending.Count == 0)
            {
                if (closed) return null;
                Monitor.Wait(pending);
            }
            int best = pending.Count - 1;
            int bestHeat = heat(pending[best]);
            for (int i = pending.Count - 2; i >= 0; i--)
            {
                int h = heat(pending[i]);
                if (h > bestHeat)
                {
                    best = i;
                    bestHeat = h;
                }
            }
            T item = pending[best];
            pending.RemoveAt(best);
            return item;
        }
    }

    /// <summary>Lets <see cref="Take"/> return null once the queue is empty.</summary>
    public void Close()
    {
        lock (pending)
        {
            closed = true;
            Monitor.PulseAll(pending);
        }
    }
}
