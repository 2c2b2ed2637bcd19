using Emu.Devices.Platform;
using Emu.Memory;

namespace Emu.Devices.Chipset;

/// <summary>
/// System control port B at 61h (PC/AT): bit 0 gates PIT counter 2, bit 1 enables the speaker
/// data, bits 2-3 enable parity/channel checks; reads add bit 4, the refresh-request toggle
/// (every 15.085 µs, which firmware uses for delays), and bit 5, PIT counter 2's output.
/// </summary>
public sealed class SystemControlPort : IPortDevice
{
    public const ushort Port = 0x61;
    private const long RefreshPeriodNs = 15_085;

    private readonly Pit8254 pit;
    private readonly IClock clock;
    private byte control;

    public SystemControlPort(Pit8254 pit, IClock clock)
    {
        this.pit = pit;
        this.clock = clock;
    }

    public void Attach(IoSpace io) => io.Register(Port, 1, this);

    public uint In(ushort port, int size)
    {
        uint refresh = (uint)(clock.Now / RefreshPeriodNs) & 1;
        return (uint)(control & 0x0F) | (refresh << 4) | (pit.Out2 ? 0x20u : 0);
    }

    public void Out(ushort port, int size, uint value)
    {
        control = (byte)(value & 0x0F);
        pit.Gate2 = (value & 1) != 0;
    }

    /// <summary>Whether the speaker is driven (gate and data enable both set).</summary>
    public bool SpeakerOn => (control & 3) == 3;
}
