package org.aoemp.util;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class FormatTest
{
    @Test
    void shouldPrintBytesInBinaryUnitsWithoutATrailingPointZero()
    {
        assertEquals("0 B", Format.bytes(0));
        assertEquals("1023 B", Format.bytes(1023));
        assertEquals("4 KiB", Format.bytes(4096));
        assertEquals("1.5 KiB", Format.bytes(1536));
        assertEquals("1 GiB", Format.bytes(1L << 30));
        assertEquals("3 TiB", Format.bytes(3L << 40));
        assertEquals("1.5 GiB", Format.bytes(3L << 29));
    }

    @Test
    void shouldPrintLatenciesWithAUnitThatFits()
    {
        assertEquals("850ns", Format.latency(850));
        assertEquals("2.5us", Format.latency(2_500));
        assertEquals("210us", Format.latency(210_000));
        assertEquals("1.20ms", Format.latency(1_200_000));
        assertEquals("2.50s", Format.latency(2_500_000_000L));
    }

    @Test
    void shouldPrintCountsShort()
    {
        assertEquals("950", Format.count(950));
        assertEquals("12.3k", Format.count(12_300));
        assertEquals("1.25M", Format.count(1_250_000));
    }
}
