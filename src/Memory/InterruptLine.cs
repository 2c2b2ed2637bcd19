namespace Emu.Memory;

/// <summary>The interrupt controller's side of the INTA cycle: which vector the CPU gets.</summary>
public interface IInterruptAcknowledge
{
    /// <summary>
    /// The CPU accepts the pending interrupt: returns its vector (the controller then marks it
    /// in service). Called only while <see cref="InterruptLine.Intr"/> is asserted.
    /// </summary>
    int Acknowledge();
}

/// <summary>
/// The processor's interrupt inputs, as a board wires them: INTR (level, from the interrupt
/// controller) and NMI (edge). The CPU samples them between instructions; a device never
/// sees the CPU, only this line.
/// </summary>
public sealed class InterruptLine
{
    private volatile bool intr;
    private volatile bool nmi;

    /// <summary>INTR: an unmasked request is pending at the controller.</summary>
    public bool Intr
    {
        get => intr;
        set
        {
            intr = value;
            if (value) Raised?.Invoke();
        }
    }

    /// <summary>A latched NMI edge, cleared when the CPU takes it.</summary>
    public bool NmiPending => nmi;

    /// <summary>Whether anything asks for the CPU's attention (one read on the CPU's path).</summary>
    public bool Any => intr | nmi;

    /// <summary>Who answers the INTA cycle (the PIC).</summary>
    public IInterruptAcknowledge? Controller { get; set; }

    public void RaiseNmi()
    {
        nmi = true;
        Raised?.Invoke();
    }

    /// <summary>
    /// Called when INTR is asserted or an NMI latched: the CPU uses it to make compiled code
    /// return to its dispatcher, which samples the line.
    /// </summary>
    public System.Action? Raised { get; set; }

    /// <summary>The CPU takes the NMI.</summary>
    public void AcknowledgeNmi() => nmi = false;
}
