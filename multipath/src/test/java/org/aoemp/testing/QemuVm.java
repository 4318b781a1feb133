package org.aoemp.testing;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A throwaway VM running Debian's real 6.1 kernel under qemu (TCG: no KVM on the test machines), for tests
 * that need the kernel's own {@code nbd} and {@code aoe} drivers, which the host kernel lacks.
 *
 * <p>The guest boots a busybox initramfs ({@link QemuVmImage}: built once, cached under
 * {@code /var/tmp/aoe-vm-KVER/}) whose {@code /init} mounts proc/sys/devtmpfs, loads virtio_pci, virtio_net,
 * crc32c_generic, ext4, nbd and aoe, brings up eth0 as 10.0.2.15/24 with gateway 10.0.2.2, runs the test
 * script with {@code /bin/sh} from {@code /tmp}, prints {@code @@EXIT=status@@} and powers off. Besides
 * busybox the guest has {@code nbd-client}, {@code mke2fs} ({@code mkfs.ext2/3/4}) and {@code e2fsck}
 * ({@code fsck.ext2/3/4}); aoetools are not there: write {@code /dev/etherd/discover} and read
 * {@code /sys/block/etherd!eX.Y/}.
 *
 * <p>The script reaches the guest as a second gzip'd cpio archive appended to a per-run copy of the cached
 * initramfs (the kernel unpacks concatenated archives in turn), landing at {@code /test.sh}: no size limit,
 * unlike the 2 KiB kernel command line. A script reports back by printing markers, {@code @@NAME=value@@}
 * anywhere in a console line, read with {@link VmResult#marker(String)}.
 *
 * <pre>{@code
 * VmResult result = QemuVm.builder().userNetwork().script("nbd-client 10.0.2.2 10809 /dev/nbd0").build().run();
 * assertEquals(0, result.exitStatus(), result::toString);
 * }</pre>
 *
 * <p>Networking: {@link Builder#userNetwork()} (the default) puts eth0 on qemu's user-mode network, where the
 * host's 127.0.0.1 is 10.0.2.2; {@link Builder#tapNetwork(String)} puts it on a host tap device (layer 2, what
 * AoE needs), e.g. one made by {@link Tap#create()}. Under TCG a boot takes a few seconds and guest I/O is slow:
 * use the VM for correctness, never for performance figures.
 *
 * <p>System properties: {@code aoe.vm.echo=true} copies the console to stdout as it arrives;
 * {@code aoe.vm.cache} moves the image cache from {@code /var/tmp}; {@code aoe.vm.kernelPackage} pins the
 * kernel package instead of the one {@code linux-image-amd64} depends on.
 */
public final class QemuVm
{
    /** {@link VmResult#exitStatus()} when the script never reported one (timeout, crash, kernel panic). */
    public static final int NO_EXIT_STATUS = -1;

    private static final Pattern MARKER = Pattern.compile("@@([A-Za-z0-9_.-]+)=(.*?)@@");
    private static final String KERNEL_ARGS = "console=ttyS0 quiet panic=-1 mitigations=off";

    private final String tapName;
    private final int memoryMb;
    private final Duration timeout;
    private final String script;
    private final String kernelArgs;
    private final Consumer<String> consoleListener;

    private QemuVm(final Builder builder)
    {
        this.tapName = builder.tapName;
        this.memoryMb = builder.memoryMb;
        this.timeout = builder.timeout;
        this.script = Objects.requireNonNull(builder.script, "script");
        this.kernelArgs = builder.kernelArgs;
        this.consoleListener = builder.consoleListener;
    }

    public static Builder builder()
    {
        return new Builder();
    }

    /** Skips (or under CI fails) the calling test unless the host can build and boot the VM. */
    public static void requirePrerequisites()
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("qemu-system-x86_64", "qemu-system-x86");
        Prerequisites.requireCommand("busybox", "busybox-static");
        Prerequisites.require(Files.isExecutable(Path.of("/bin/busybox")), "/bin/busybox (Debian package busybox-static)");
        Prerequisites.requireCommand("depmod", "kmod");
        Prerequisites.requireCommand("dpkg", "dpkg");
        Prerequisites.requireCommand("apt-get", "apt");
        Prerequisites.requireCommand("ldd", "libc-bin");
        Prerequisites.requireCommand("nbd-client", "nbd-client");
        Prerequisites.requireCommand("mke2fs", "e2fsprogs");
        Prerequisites.requireCommand("e2fsck", "e2fsprogs");
    }

    /** {@link #requirePrerequisites()} plus what {@link Tap} needs. */
    public static void requireTapPrerequisites()
    {
        requirePrerequisites();
        Prerequisites.requireCommand("ip", "iproute2");
        Prerequisites.require(Files.exists(Path.of("/dev/net/tun")), "/dev/net/tun (the tun kernel module)");
    }

    /**
     * Boots the VM, runs the script and waits until the guest powers off or the timeout passes; qemu is killed
     * on timeout, on interruption and on any failure here, so no VM outlives this call. Blocks the caller.
     */
    public VmResult run() throws IOException, InterruptedException
    {
        final QemuVmImage image = QemuVmImage.get();
        final Path runDir = Files.createTempDirectory("aoe-vm-run-");
        Process qemu = null;
        Thread reader = null;
        Thread killer = null;
        try
        {
            final Path initrd = runDir.resolve("initrd.img");
            Files.copy(image.initrd(), initrd);
            Files.write(initrd, QemuVmImage.scriptArchive(script), StandardOpenOption.APPEND);

            final List<String> command = new ArrayList<>(List.of(
                "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", Integer.toString(memoryMb),
                "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
                "-kernel", image.kernel().toString(), "-initrd", initrd.toString(),
                "-append", kernelArgs.isEmpty() ? KERNEL_ARGS : KERNEL_ARGS + " " + kernelArgs));
            command.addAll(List.of("-netdev", tapName == null
                ? "user,id=n0"
                : "tap,id=n0,ifname=" + tapName + ",script=no,downscript=no"));
            command.addAll(List.of("-device", "virtio-net-pci,netdev=n0"));

            final long start = System.nanoTime();
            qemu = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
            final Process process = qemu;
            killer = new Thread(process::destroyForcibly, "qemu-killer");
            Runtime.getRuntime().addShutdownHook(killer);

            final Console console = new Console(start, consoleListener);
            reader = Thread.ofPlatform().daemon().name("qemu-console").start(() -> console.readFrom(process));
            final boolean exited = qemu.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!exited)
            {
                qemu.destroyForcibly();
                qemu.waitFor();
            }
            reader.join(TimeUnit.SECONDS.toMillis(5));
            final String text = console.text();
            return new VmResult(exitStatus(text), !exited, text, console.bootTime(), Duration.ofNanos(System.nanoTime() - start));
        }
        finally
        {
            if (qemu != null && qemu.isAlive())
            {
                qemu.destroyForcibly();
                qemu.waitFor(5, TimeUnit.SECONDS);
            }
            if (killer != null)
            {
                removeShutdownHook(killer);
            }
            QemuVmImage.deleteTree(runDir);
        }
    }

    private static int exitStatus(final String console)
    {
        final List<String> values = markers(console, "EXIT");
        if (values.isEmpty())
        {
            return NO_EXIT_STATUS;
        }
        try
        {
            return Integer.parseInt(values.getLast().strip());
        }
        catch (final NumberFormatException ex)
        {
            return NO_EXIT_STATUS;
        }
    }

    private static List<String> markers(final String console, final String name)
    {
        final List<String> values = new ArrayList<>();
        final Matcher matcher = MARKER.matcher(console);
        while (matcher.find())
        {
            if (matcher.group(1).equals(name))
            {
                values.add(matcher.group(2));
            }
        }
        return values;
    }

    private static void removeShutdownHook(final Thread hook)
    {
        try
        {
            Runtime.getRuntime().removeShutdownHook(hook);
        }
        catch (final IllegalStateException ignored)
        {
            // the JVM is shutting down and runs the hook anyway
        }
    }

    /** Collects the serial console; written by the reader thread only, read after it is joined. */
    private static final class Console
    {
        private final long start;
        private final Consumer<String> listener;
        private final boolean echo = Boolean.getBoolean("aoe.vm.echo");
        private final StringBuilder text = new StringBuilder();
        private volatile long readyNanos = -1;

        Console(final long start, final Consumer<String> listener)
        {
            this.start = start;
            this.listener = listener;
        }

        void readFrom(final Process process)
        {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = lines.readLine()) != null)
                {
                    line = line.replace("\r", "");
                    if (readyNanos < 0 && line.contains(QemuVmImage.READY_MARKER))
                    {
                        readyNanos = System.nanoTime() - start;
                    }
                    synchronized (text)
                    {
                        text.append(line).append('\n');
                    }
                    if (echo)
                    {
                        System.out.println("[vm] " + line);
                    }
                    if (listener != null)
                    {
                        listener.accept(line);
                    }
                }
            }
            catch (final IOException ex)
            {
                synchronized (text)
                {
                    text.append("[console read failed: ").append(ex).append("]\n");
                }
            }
        }

        String text()
        {
            synchronized (text)
            {
                return text.toString();
            }
        }

        Optional<Duration> bootTime()
        {
            final long nanos = readyNanos;
            return nanos < 0 ? Optional.empty() : Optional.of(Duration.ofNanos(nanos));
        }
    }

    /** What a VM run left behind: the script's exit status and the whole serial console. */
    public record VmResult(int exitStatus, boolean timedOut, String console, Optional<Duration> bootTime, Duration elapsed)
    {
        /** The script exited 0 before the timeout. */
        public boolean succeeded()
        {
            return !timedOut && exitStatus == 0;
        }

        /** The value of the last {@code @@name=value@@} marker on the console. */
        public Optional<String> marker(final String name)
        {
            final List<String> values = markers(name);
            return values.isEmpty() ? Optional.empty() : Optional.of(values.getLast());
        }

        /** The values of every {@code @@name=value@@} marker on the console, in order. */
        public List<String> markers(final String name)
        {
            return QemuVm.markers(console, name);
        }

        /** Summary plus the console: meant as an assertion message. */
        @Override
        public String toString()
        {
            return "VM exit=" + exitStatus + (timedOut ? " (timed out)" : "") + " boot=" + bootTime.map(Duration::toString).orElse("never")
                + " elapsed=" + elapsed + "\n--- console ---\n" + console + "--- end of console ---";
        }
    }

    /**
     * Configures one VM run. Defaults: user-mode networking, 512 MiB, a 120 s timeout. The script is required.
     */
    public static final class Builder
    {
        private String tapName;
        private int memoryMb = 512;
        private Duration timeout = Duration.ofSeconds(120);
        private String script;
        private String kernelArgs = "";
        private Consumer<String> consoleListener;

        private Builder()
        {
        }

        /** eth0 on qemu's user-mode network: the host's 127.0.0.1 is 10.0.2.2 in the guest. */
        public Builder userNetwork()
        {
            this.tapName = null;
            return this;
        }

        /** eth0 on an existing, up host tap device (layer 2), e.g. {@link Tap#name()}. */
        public Builder tapNetwork(final String tapName)
        {
            this.tapName = Objects.requireNonNull(tapName, "tapName");
            return this;
        }

        public Builder memoryMb(final int memoryMb)
        {
            this.memoryMb = memoryMb;
            return this;
        }

        /** How long the whole run (boot, script, power off) may take before qemu is killed. */
        public Builder timeout(final Duration timeout)
        {
            this.timeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** The shell script the guest runs (busybox sh, cwd /tmp, stdin /dev/null); its exit status is the VM's. */
        public Builder script(final String shellScript)
        {
            this.script = Objects.requireNonNull(shellScript, "shellScript");
            return this;
        }

        /** Extra kernel command line words, e.g. {@code aoe.aoe_deadsecs=10} (read by modprobe at load). */
        public Builder kernelArgs(final String kernelArgs)
        {
            this.kernelArgs = Objects.requireNonNull(kernelArgs, "kernelArgs");
            return this;
        }

        /**
         * Called with each console line (carriage returns removed) on the console reader thread as it arrives,
         * e.g. to act on the host when the guest prints a marker. Must not block for long.
         */
        public Builder onConsoleLine(final Consumer<String> listener)
        {
            this.consoleListener = listener;
            return this;
        }

        public QemuVm build()
        {
            return new QemuVm(this);
        }
    }

    /**
     * A host tap device with a unique name ({@code aoevm} plus random base-36 digits), up, IPv6 off so the host
     * does not chatter on it. {@link #close()} deletes it; a shutdown hook deletes it too if the JVM exits first.
     */
    public static final class Tap implements AutoCloseable
    {
        private static final SecureRandom RANDOM = new SecureRandom();

        private final String name;
        private final Thread hook;
        private boolean closed;

        private Tap(final String name)
        {
            this.name = name;
            this.hook = new Thread(this::delete, "tap-delete-" + name);
        }

        /** Creates the tap and sets it up; deletes it again if that fails half way. */
        public static Tap create() throws IOException
        {
            // 41 random bits: at most 8 base-36 digits, so the name stays within IFNAMSIZ (15)
            final Tap tap = new Tap("aoevm" + Long.toString(RANDOM.nextLong() >>> 23, 36));
            QemuVmImage.run(Path.of("/"), "ip", "tuntap", "add", "dev", tap.name, "mode", "tap");
            Runtime.getRuntime().addShutdownHook(tap.hook);
            try
            {
                final Path disableIpv6 = Path.of("/proc/sys/net/ipv6/conf", tap.name, "disable_ipv6");
                if (Files.exists(disableIpv6))
                {
                    Files.writeString(disableIpv6, "1");
                }
                QemuVmImage.run(Path.of("/"), "ip", "link", "set", "dev", tap.name, "up");
            }
            catch (final IOException | RuntimeException ex)
            {
                tap.close();
                throw ex;
            }
            return tap;
        }

        public String name()
        {
            return name;
        }

        @Override
        public synchronized void close()
        {
            if (closed)
            {
                return;
            }
            closed = true;
            removeShutdownHook(hook);
            delete();
        }

        private void delete()
        {
            try
            {
                QemuVmImage.run(Path.of("/"), "ip", "link", "del", "dev", name);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("could not delete tap " + name, ex);
            }
        }

        @Override
        public String toString()
        {
            return name;
        }
    }
}
