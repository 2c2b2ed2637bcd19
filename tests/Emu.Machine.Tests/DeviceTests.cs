using System.Collections.Generic;
using System.IO;
using Emu.Devices.Debug;
using Emu.Memory;

namespace Emu.Machine.Tests;

public class DeviceTests
{
    [Fact]
    public void DebugConsoleWritesTheLowByteOfEachOut()
    {
        var output = new MemoryStream();
        var io = new IoSpace();
        var console = new DebugConsole(output);
        console.Attach(io);
        io.Out(0xE9, 1, 'h');
        io.Out(0xE9, 2, 0x4269);      // 16-bit OUT: only the low byte reaches the 8-bit port
        io.Out(0xE9, 4, 0x1234_5621);
        Assert.Equal(new byte[] { (byte)'h', 0x69, 0x21 }, output.ToArray());
        Assert.Equal(3, console.BytesWritten);
    }

    [Fact]
    public void DebugConsoleReadsBackE9()
    {
        var io = new IoSpace();
        new DebugConsole(new MemoryStream()).Attach(io);
        Assert.Equal(0xE9u, io.In(0xE9, 1));
        Assert.Equal(0xFFE9u, io.In(0xE9, 2));
        Assert.Equal(0xFFFF_FFE9u, io.In(0xE9, 4));
    }

    [Fact]
    public void DebugConsoleFlushesOnNewline()
    {
        var sink = new MemoryStream();
        var buffered = new BufferedStream(sink, 4096);
        var console = new DebugConsole(buffered);
        console.Out(0xE9, 1, 'a');
        Assert.Equal(0, sink.Length);
        console.Out(0xE9, 1, '\n');
        Assert.Equal(2, sink.Length);
    }

    [Theory]
    [InlineData(0xF4, 1, 0x10u, 0x21)]
    [InlineData(0xF4, 4, 0u, 1)]
    [InlineData(0xF5, 1, 0x7Fu, 0xFF)]
    [InlineData(0xF7, 2, 0x1234u, 0x2469)]
    public void DebugExitReportsTheValueOnAnyOfItsFourPorts(int port, int size, uint value, int status)
    {
        var io = new IoSpace();
        var reported = new List<uint>();
        var exit = new DebugExit(reported.Add);
        exit.Attach(io);
        io.Out((ushort)port, size, value);
        Assert.Equal(new[] { value }, reported);
        Assert.Equal(value, exit.Value);
        Assert.Equal(status, DebugExit.ExitStatusFor(value));
    }

    [Fact]
    public void DebugExitCountsOnlyTheFirstWriteAndReadsZero()
    {
        var io = new IoSpace();
        var reported = new List<uint>();
        var exit = new DebugExit(reported.Add);
        exit.Attach(io);
        Assert.Equal(0u, io.In(0xF4, 1));
        io.Out(0xF4, 1, 3);
        io.Out(0xF4, 1, 5);
        Assert.Equal(new[] { 3u }, reported);
        Assert.Equal(3u, exit.Value);
        Assert.Equal(0xFFu, io.In(0xF8, 1)); // the next port is not the device's
    }
}
