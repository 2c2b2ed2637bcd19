using Emu.Memory;

namespace Emu.Devices.Chipset;

/// <summary>
/// The PC's x87 error logic for MS-DOS compatibility mode (CR0.NE=0; Intel SDM Vol. 1,
/// appendix D): the processor's FERR# output sets a latch that drives IRQ 13; an OUT to port
/// F0h clears the latch and asserts IGNNE#, which stays asserted until FERR# goes away, so the
/// handler's next x87 instruction runs instead of freezing again.
/// </summary>
public sealed class FpuErrorLatch : IFpuErrorPins, IPortDevice
{
    public const ushort Port = 0xF0;
    public const int Irq = 13;

    private readonly IIrqSink irq;
    private bool ferr, latched, ignne;

    public FpuErrorLatch(IIrqSink irq) => this.irq = irq;

    public void Attach(IoSpace io) => io.Register(Port, 1, this);

    public bool IgnneAsserted => ignne;

    public void SetFerr(bool asserted)
    {
        if (asserted && !ferr && !ignne)
        {
            latched = true;
            irq.SetIrq(Irq, true);
        }
        if (!asserted) ignne = false;
        ferr = asserted;
    }

    /// <summary>Reads of F0h float.</summary>
    public uint In(ushort port, int size) => size == 1 ? 0xFFu : size == 2 ? 0xFFFFu : 0xFFFF_FFFFu;

    /// <summary>Any write clears the IRQ 13 latch and, while FERR# is asserted, asserts IGNNE#.</summary>
    public void Out(ushort port, int size, uint value)
    {
        if (latched)
        {
            latched = false;
            irq.SetIrq(Irq, false);
        }
        if (ferr) ignne = true;
    }
}
