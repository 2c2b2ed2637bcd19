using System;
using System.Threading.Tasks;
using Emu.Translator;

namespace Emu.Cpu.Tests.Translation;

/// <summary>The translator's compile queue: hottest first, newest among equals, heat read when taken.</summary>
public class CompileQueueTests
{
    private sealed class Item
    {
        public readonly string Name;
        public int Heat;
        public Item(string name, int heat) { Name = name; Heat = heat; }
    }

    [Fact]
    public void TheHottestIsTakenFirstAndAmongEqualsTheNewest()
    {
        var q = new CompileQueue<Item>(i => i.Heat);
        var old = new Item("old", 5);
        var cold = new Item("cold", 0);
        var hot = new Item("hot", 40);
        var newer = new Item("newer", 5);
        q.Add(old);
        q.Add(cold);
        q.Add(hot);
        q.Add(newer);
        Assert.Equal("hot", q.Take()!.Name);
        // Heat is read at each take: the old item warmed up while it waited.
        old.Heat = 7;
        Assert.Equal("old", q.Take()!.Name);
        old.Heat = 5;
        cold.Heat = 5;
        q.Add(new Item("newest", 5));
        Assert.Equal("newest", q.Take()!.Name);
        Assert.Equal("newer", q.Take()!.Name);
        Assert.Equal("cold", q.Take()!.Name);
    }

    [Fact]
    public async Task TakeWaitsForWorkAndEndsOnceClosed()
    {
        var q = new CompileQueue<Item>(i => i.Heat);
        Task<Item?> waiting = Task.Run(() => q.Take());
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        q.Add(new Item("a", 1));
        Assert.Equal("a", (await waiting.WaitAsync(TimeSpan.FromSeconds(5)))!.Name);
        Task<Item?> last = Task.Run(() => q.Take());
        q.Close();
        Assert.Null(await last.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
