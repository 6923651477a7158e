// What a Raspberry Pi 4 on Raspberry Pi OS bookworm prints on its serial console (ttyAMA0), abridged from
// real boots: the kernel log, systemd's unit status, the getty banner and the motd.

const KERNEL = '6.6.51+rpt-rpi-v8';
const KERNEL_BUILD = '#1 SMP PREEMPT Debian 1:6.6.51-1+rpt3 (2024-10-08)';
const OK = '[\x1b[0;32m  OK  \x1b[0m]';

export function bootLog(hostname: string): string[] {
  return [
    '[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd083]',
    `[    0.000000] Linux version ${KERNEL} (serge@raspberrypi.com) (aarch64-linux-gnu-gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) ${KERNEL_BUILD}`,
    '[    0.000000] KASLR enabled',
    '[    0.000000] random: crng init done',
    '[    0.000000] Machine model: Raspberry Pi 4 Model B Rev 1.5',
    '[    0.000000] efi: UEFI not found.',
    '[    0.000000] Reserved memory: created CMA memory pool at 0x000000001ac00000, size 320 MiB',
    '[    0.000000] OF: reserved mem: initialized node linux,cma, compatible id shared-dma-pool',
    '[    0.000000] Zone ranges:',
    '[    0.000000]   DMA      [mem 0x0000000000000000-0x000000003fffffff]',
    '[    0.000000]   DMA32    [mem 0x0000000040000000-0x00000000ffffffff]',
    '[    0.000000]   Normal   [mem 0x0000000100000000-0x00000001ffffffff]',
    '[    0.000000] percpu: Embedded 30 pages/cpu s83880 r8192 d30808 u122880',
    '[    0.000000] Detected PIPT I-cache on CPU0',
    '[    0.000000] CPU features: detected: Spectre-v2',
    '[    0.000000] Kernel command line: coherent_pool=1M 8250.nr_uarts=0 snd_bcm2835.enable_headphones=0 bcm2708_fb.fbwidth=0 bcm2708_fb.fbheight=0 bcm2708_fb.fbswap=1 vc_mem.mem_base=0x3ec00000 vc_mem.mem_size=0x40000000  console=ttyAMA0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait',
    '[    0.000000] Memory: 7581508K/8220672K available (13376K kernel code, 2208K rwdata, 4260K rodata, 5056K init, 1146K bss, 311292K reserved, 327680K cma-reserved)',
    '[    0.000000] SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs=4, Nodes=1',
    '[    0.000000] rcu: Preemptible hierarchical RCU implementation.',
    '[    0.000000] NR_IRQS: 64, nr_irqs: 64, preallocated irqs: 0',
    '[    0.000000] arch_timer: cp15 timer(s) running at 54.00MHz (phys).',
    '[    0.000001] sched_clock: 56 bits at 54MHz, resolution 18ns, wraps every 4398046511102ns',
    '[    0.000391] Calibrating delay loop (skipped), value calculated using timer frequency.. 108.00 BogoMIPS (lpj=216000)',
    '[    0.033521] smp: Bringing up secondary CPUs ...',
    '[    0.045731] smp: Brought up 1 node, 4 CPUs',
    '[    0.070712] Serial: AMBA PL011 UART driver',
    '[    0.097118] bcm2835-dma fe007000.dma: DMA legacy API manager, dmachans=0x1',
    '[    0.520142] fe201000.serial: ttyAMA0 at MMIO 0xfe201000 (irq = 36, base_baud = 0) is a PL011 rev2',
    '[    0.520183] printk: console [ttyAMA0] enabled',
    '[    0.584003] brcm-pcie fd500000.pcie: link up, 5.0 GT/s PCIe x1 (!SSC)',
    '[    0.611812] pci 0000:01:00.0: [1106:3483] type 00 class 0x0c0330',
    '[    0.790456] mmc0: SDHCI controller on fe340000.mmc [fe340000.mmc] using ADMA',
    '[    0.890532] mmc0: new ultra high speed DDR50 SDHC card at address 5048',
    '[    0.891520] mmcblk0: mmc0:5048 SD32G 29.7 GiB',
    '[    0.895002]  mmcblk0: p1 p2',
    '[    0.950412] EXT4-fs (mmcblk0p2): mounted filesystem 4e639091-02c8-4b5e-9a3c-2b4d1f7e6a10 ro with ordered data mode. Quota mode: none.',
    '[    0.950501] VFS: Mounted root (ext4 filesystem) readonly on device 179:2.',
    '[    0.960102] Run /sbin/init as init process',
    '[    1.452077] systemd[1]: systemd 252.30-1~deb12u2 running in system mode (+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP +GCRYPT -GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 -IDN +IPTC +KMOD +LIBCRYPTSETUP +LIBFDISK +PCRE2 -PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD -BPF_FRAMEWORK -XKBCOMMON +UTMP +SYSVINIT default-hierarchy=unified)',
    '[    1.452201] systemd[1]: Detected architecture arm64.',
    `[    1.460120] systemd[1]: Hostname set to <${hostname}>.`,
    `${OK} Created slice system-getty.slice - Slice /system/getty.`,
    `${OK} Created slice system-serial\\x2dgetty.slice - Slice /system/serial-getty.`,
    `${OK} Started systemd-journald.service - Journal Service.`,
    `${OK} Finished systemd-remount-fs.service - Remount Root and Kernel File Systems.`,
    `${OK} Started systemd-udevd.service - Rule-based Manager for Device Events and Files.`,
    `${OK} Reached target local-fs.target - Local File Systems.`,
    '[    4.120456] brcmfmac: F1 signature read @0x18000000=0x15264345',
    '[    4.132188] brcmfmac: brcmf_fw_alloc_request: using brcm/brcmfmac43455-sdio for chip BCM4345/6',
    '[    4.380654] brcmfmac: brcmf_c_preinit_dcmds: Firmware: BCM4345/6 wl0: Jan  4 2021 19:56:29 version 7.45.229 (617f1f5 CY) FWID 01-2dbd9d2e',
    `${OK} Started NetworkManager.service - Network Manager.`,
    `${OK} Reached target network.target - Network.`,
    '[    6.102345] bcmgenet fd580000.ethernet eth0: Link is Up - 1Gbps/Full - flow control rx/tx',
    '[    6.102398] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready',
    `${OK} Started ssh.service - OpenBSD Secure Shell server.`,
    `${OK} Started serial-getty@ttyAMA0.service - Serial Getty on ttyAMA0.`,
    `${OK} Reached target getty.target - Login Prompts.`,
    `${OK} Reached target multi-user.target - Multi-User System.`,
  ];
}

/** Messages a running Pi's kernel prints now and then, without their timestamps. */
export const KERNEL_CHATTER = [
  'brcmfmac: brcmf_cfg80211_set_power_mgmt: power save enabled',
  'usb 1-1.3: new high-speed USB device number 3 using xhci_hcd',
  'usb 1-1.3: New USB device found, idVendor=0bda, idProduct=8153, bcdDevice=30.00',
  'bcmgenet fd580000.ethernet eth0: Link is Down',
  'bcmgenet fd580000.ethernet eth0: Link is Up - 1Gbps/Full - flow control rx/tx',
  'hwmon hwmon1: Undervoltage detected!',
  'hwmon hwmon1: Voltage normalised',
  'cam-dummy-reg: disabling',
  'Bluetooth: hci0: BCM: features 0x2f',
  'IPv6: ADDRCONF(NETDEV_CHANGE): wlan0: link becomes ready',
  'v3d fec00000.v3d: MMU error from client CLE (4) at 0x1001000, pte invalid',
];

export function banner(hostname: string): string {
  return `\nDebian GNU/Linux 12 ${hostname} ttyAMA0\n\n`;
}

export function motd(hostname: string): string {
  return [
    `Linux ${hostname} ${KERNEL} ${KERNEL_BUILD} aarch64`,
    '',
    'The programs included with the Debian GNU/Linux system are free software;',
    'the exact distribution terms for each program are described in the',
    'individual files in /usr/share/doc/*/copyright.',
    '',
    'Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY, to the extent',
    'permitted by applicable law.',
    '',
  ].join('\n');
}
