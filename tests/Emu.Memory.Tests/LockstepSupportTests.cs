using System;

namespace Emu.Memory.Tests;

/// <summary>
/// What lockstep needs from the memory layer: device accesses recorded on one machine and
/// replayed to another (<see cref="DeviceAccessLog"/>), every RAM store seen
/// (<see cref="PhysicalMemory.TrackWrites"/>), and a copy of an address space
/// (<see cref="PhysicalMemory.CreateShadow"/>).
/// </summary>
public unsafe class LockstepSupportTests
{
    // ---- port I/O: record and replay ----

    [Fact]
    public void RecordingPortsReachTheDevicesAndLogEveryAccessWithItsValue()
    {
        var io = new IoSpace();
        var dev = new RecordingPorts();
        io.Register(0x60, 4, dev);
        var log = new DeviceAccessLog(replaying: false);
        io.Log = log;

        Assert.Equal(RecordingPorts.Answer(0x60, 1), io.In(0x60, 1));
        io.Out(0x61, 2, 0xBEEF);
        Assert.Equal(0xFFFF_FFFFu, io.In(0x300, 4)); // unclaimed: logged too, the replay must answer it

        Assert.Equal(2, dev.Log.Count);
        Assert.Equal(3, log.Count);
        Assert.Equal(new DeviceAccess(DeviceBus.Port, false, 0x60, 1, RecordingPorts.Answer(0x60, 1)), log[0]);
        Assert.Equal(new DeviceAccess(DeviceBus.Port, true, 0x61, 2, 0xBEEF), log[1]);
        Assert.Equal(new DeviceAccess(DeviceBus.Port, false, 0x300, 4, 0xFFFF_FFFF), log[2]);
    }

    [Fact]
    public void ReplayingPortsAnswerFromTheRecordingAndNeverReachADevice()
    {
        var recorded = Record(io =>
        {
            io.In(0x60, 1);
            io.Out(0xE9, 1, (uint)'A');
            io.In(0x62, 4);
        }, out _);
        var shadowDevice = new RecordingPorts();
        var shadow = new IoSpace();
        shadow.Register(0x60, 0x100, shadowDevice);
        var replay = new DeviceAccessLog(replaying: true);
        replay.Load(recorded);
        shadow.Log = replay;

        Assert.Equal(RecordingPorts.Answer(0x60, 1), shadow.In(0x60, 1));
        shadow.Out(0xE9, 1, (uint)'A');
        Assert.Equal(RecordingPorts.Answer(0x62, 4), shadow.In(0x62, 4));

        Assert.Empty(shadowDevice.Log);
        Assert.Null(replay.Mismatch);
        Assert.Equal(3, replay.Position);
    }

    [Fact]
    public void ReplayReportsTheFirstAccessThatDiffersFromTheRecording()
    {
        var recorded = Record(io =>
        {
            io.Out(0xE9, 1, (uint)'A');
            io.Out(0xE9, 1, (uint)'B');
        }, out _);
        var replay = new DeviceAccessLog(replaying: true);
        replay.Load(recorded);
        var shadow = new IoSpace { Log = replay };

        shadow.Out(0xE9, 1, (uint)'A');
        shadow.Out(0xE9, 1, (uint)'C'); // the value differs
        shadow.Out(0xE9, 1, (uint)'D'); // past the end: a second mismatch, the first one is kept

        Assert.NotNull(replay.Mismatch);
        (DeviceAccess? r, DeviceAccess now) = replay.Mismatch!.Value;
        Assert.Equal(new DeviceAccess(DeviceBus.Port, true, 0xE9, 1, 'B'), r);
        Assert.Equal(new DeviceAccess(DeviceBus.Port, true, 0xE9, 1, 'C'), now);
        Assert.Equal("write to port 0x00E9 (1 byte, 0x43)", now.ToString());
    }

    [Theory]
    [InlineData((ushort)0x61, 1)] // another port
    [InlineData((ushort)0x60, 2)] // another size
    public void AReadOfAnotherPortOrSizeIsAMismatchAndReadsAsAnEmptyBus(ushort port, int size)
    {
        var recorded = Record(io => io.In(0x60, 1), out _);
        var replay = new DeviceAccessLog(replaying: true);
        replay.Load(recorded);
        var shadow = new IoSpace { Log = replay };

        Assert.Equal(size == 1 ? 0xFFu : 0xFFFFu, shadow.In(port, size));
        Assert.Equal(new DeviceAccess(DeviceBus.Port, false, 0x60, 1, RecordingPorts.Answer(0x60, 1)), replay.Mismatch!.Value.Recorded);
    }

    [Fact]
    public void TooFewAccessesLeaveThePositionShortOfTheCount()
    {
        var recorded = Record(io =>
        {
            io.In(0x60, 1);
            io.In(0x60, 1);
        }, out _);
        var replay = new DeviceAccessLog(replaying: true);
        replay.Load(recorded);
        new IoSpace { Log = replay }.In(0x60, 1);
        Assert.Null(replay.Mismatch);
        Assert.Equal(1, replay.Position);
        Assert.Equal(2, replay.Count);
    }

    [Fact]
    public void TheAccessARunStoppedAfterCallsStopReachedWhenReplayed()
    {
        var recorded = Record(io =>
        {
            io.Out(0xE9, 1, 1);
            io.Out(0xF4, 4, 0x10);
        }, out DeviceAccessLog log);
        log.MarkStopAfterLast();
        var replay = new DeviceAccessLog(replaying: true);
        int reached = 0;
        replay.StopReached = () => reached++;
        replay.Load(recorded);
        var shadow = new IoSpace { Log = replay };

        shadow.Out(0xE9, 1, 1);
        Assert.Equal(0, reached);
        shadow.Out(0xF4, 4, 0x10);
        Assert.Equal(1, reached);
    }

    [Fact]
    public void ClearForgetsTheAccessesAndTheMismatch()
    {
        var replay = new DeviceAccessLog(replaying: true);
        new IoSpace { Log = replay }.In(0x60, 1);
        Assert.NotNull(replay.Mismatch);
        replay.Clear();
        Assert.Null(replay.Mismatch);
        Assert.Equal(0, replay.Count);
        Assert.Equal(0, replay.Position);
    }

    private static DeviceAccessLog Record(Action<IoSpace> accesses, out DeviceAccessLog log)
    {
        var io = new IoSpace();
        io.Register(0x60, 0x100, new RecordingPorts());
        log = new DeviceAccessLog(replaying: false);
        io.Log = log;
        accesses(io);
        return log;
    }

    // ---- MMIO: record, and replay on a shadow address space ----

    [Fact]
    public void MmioIsRecordedOnThePrimaryAndReplayedOnItsShadowWithoutTheDevice()
    {
        using var primary = new PhysicalMemory(0x1_0000);
        var device = new RecordingMmio();
        primary.MapMmio(0x8000, 0x1000, device);
        var recorded = new DeviceAccessLog(replaying: false);
        primary.Log = recorded;
        uint value = primary.Read(0x8010, 4);
        primary.Write(0x8020, 2, 0x1234);
        Assert.Equal(2, device.Log.Count);

        using PhysicalMemory shadow = primary.CreateShadow();
        var replay = new DeviceAccessLog(replaying: true);
        replay.Load(recorded);
        shadow.Log = replay;
        Assert.Equal(value, shadow.Read(0x8010, 4));
        shadow.Write(0x8020, 2, 0x1234);

        Assert.Equal(2, device.Log.Count); // the shadow reached no device
        Assert.Null(replay.Mismatch);
        Assert.Equal(2, replay.Position);
        Assert.Equal(new DeviceAccess(DeviceBus.Mmio, false, 0x8010, 4, value), recorded[0]);
        Assert.Equal("read of MMIO 0x00008010 (4 bytes, 0x" + value.ToString("X8") + ")", recorded[0].ToString());
    }

    [Fact]
    public void TheShadowCopiesRamAndRomAndMapsMmioWhereTheOriginalHasIt()
    {
        using var primary = new PhysicalMemory(0x1_0000);
        for (uint a = 0; a < 0x1_0000; a++) primary.Ram[a] = (byte)(a * 7);
        primary.MapRom(0x2_0000, new byte[] { 1, 2, 3 });
        primary.MapMmio(0x3000, 0x1000, new RecordingMmio());

        using PhysicalMemory shadow = primary.CreateShadow();
        Assert.Equal(primary.RamSize, shadow.RamSize);
        Assert.True(new ReadOnlySpan<byte>(primary.Ram, 0x1_0000).SequenceEqual(new ReadOnlySpan<byte>(shadow.Ram, 0x1_0000)));
        Assert.Equal(0x03_0201u, shadow.Read(0x2_0000, 3 + 1) & 0xFF_FFFF);
        Assert.Equal(0xFFu, shadow.Read8(0x2_0003)); // the rest of the ROM page, as in the original
        shadow.Write(0x2_0000, 1, 9);
        Assert.Equal(1, shadow.Read8(0x2_0000)); // still ROM
        Assert.False(shadow.IsRam(0x3000, 1)); // still MMIO, not the RAM under it
        Assert.Equal(0xFFu, shadow.Read8(0x3000)); // with no device behind it
        Assert.True(shadow.IsRam(0x4000, 0x1000));
        shadow.Ram[0x100] = 0x55;
        Assert.NotEqual(0x55, primary.Ram[0x100]); // a copy, not the same RAM
    }

    // ---- write tracking ----

    [Fact]
    public void TrackingSeesStoresThroughTheMmuFastPathFilledBeforeItBegan()
    {
        using var phys = new PhysicalMemory(0x4_0000);
        using var mmu = new Mmu(phys);
        mmu.Write32(0x1000, 1); // fills the write TLB with a host pointer to the page
        mmu.Write32(0x1004, 2); // now through the fast path
        Assert.True(phys.PageHostPointer(0x1000, write: true) != null);

        phys.TrackWrites = true;
        Assert.True(phys.PageHostPointer(0x1000, write: true) == null);
        Assert.True(phys.PageHostPointer(0x1000, write: false) != null); // reads keep their fast path
        mmu.Write32(0x1008, 3);
        mmu.Write8(0x3_0FFF, 4);
        mmu.Write16(0x1FFF, 0x0605); // straddles pages 1 and 2
        mmu.Write32(0x100C, 5);

        Assert.Equal(new uint[] { 1, 0x30, 2 }, phys.DirtyPages.ToArray());
        Assert.Equal(3u, phys.Read(0x1008, 4));
        Assert.Equal(0x0605u, phys.Read(0x1FFF, 2));
        phys.ClearDirtyPages();
        Assert.Equal(0, phys.DirtyPages.Length);
        mmu.Write8(0x1000, 9);
        Assert.Equal(new uint[] { 1 }, phys.DirtyPages.ToArray());
    }

    [Fact]
    public void WritesToRomMmioAndHolesAreNotRamPages()
    {
        using var phys = new PhysicalMemory(0x1_0000);
        phys.MapRom(0x2_0000, new byte[] { 1 });
        phys.MapMmio(0x3000, 0x1000, new RecordingMmio());
        phys.TrackWrites = true;
        phys.Write(0x2_0000, 1, 5);
        phys.Write(0x3000, 4, 5);
        phys.Write(0x8000_0000, 4, 5);
        Assert.Equal(0, phys.DirtyPages.Length);
        phys.Write(0x4000, 4, 5);
        Assert.Equal(new uint[] { 4 }, phys.DirtyPages.ToArray());
    }

    [Fact]
    public void StoppingTrackingGivesTheFastPathBack()
    {
        using var phys = new PhysicalMemory(0x1_0000);
        phys.TrackWrites = true;
        phys.Write(0x1000, 1, 1);
        phys.TrackWrites = false;
        Assert.Equal(0, phys.DirtyPages.Length);
        Assert.True(phys.PageHostPointer(0x1000, write: true) != null);
    }
}
